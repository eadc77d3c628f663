#[portcullis::owner_only]
async fn handler() {}

fn main() {}
