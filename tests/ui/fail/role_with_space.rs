#[portcullis::requires_role("documents admin")]
async fn handler() {}

fn main() {}
