#[portcullis::requires_scope("docs:read")]
#[portcullis::requires_scope(any("docs:read", "docs:admin"))]
async fn handler() {}

fn main() {}
