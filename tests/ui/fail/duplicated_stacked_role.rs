#[portcullis::requires_role("editor")]
#[portcullis::requires_role(any("auditor", "editor"))]
async fn handler() {}

fn main() {}
