#[portcullis::requires_scope(any())]
async fn handler() {}

fn main() {}
