#[portcullis::requires_policy(claim_true("realm_access..email_verified"))]
async fn handler() {}

fn main() {}
