#[portcullis::requires_scope("docs:read", "docs:read")]
async fn handler() {}

fn main() {}
