#[portcullis::requires_policy(claim_is("email_verified", true))]
async fn handler() {}

fn main() {}
