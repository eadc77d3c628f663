#[portcullis::requires_scope("döcs:read")]
async fn handler() {}

fn main() {}
