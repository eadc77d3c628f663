#[portcullis::requires_policy(claim_equals("tier", 2.5))]
async fn handler() {}

fn main() {}
