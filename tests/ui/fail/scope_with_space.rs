#[portcullis::requires_scope("docs:read docs:write")]
async fn handler() {}

fn main() {}
