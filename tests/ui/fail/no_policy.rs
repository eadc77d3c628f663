#[portcullis::requires_policy()]
async fn handler() {}

fn main() {}
