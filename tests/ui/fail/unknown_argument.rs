#[portcullis::requires_scope(scope = "docs:read")]
async fn handler() {}

fn main() {}
