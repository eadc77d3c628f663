#[portcullis::requires_role()]
async fn handler() {}

fn main() {}
