#[portcullis::requires_policy(claim_includes("groups"))]
async fn handler() {}

fn main() {}
