#[portcullis::authenticated(admin)]
async fn handler() {}

fn main() {}
