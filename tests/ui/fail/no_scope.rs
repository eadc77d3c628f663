#[portcullis::requires_scope]
async fn handler() {}

fn main() {}
