struct Doc;

#[portcullis::owner_only(Doc, path = "id")]
async fn handler() {}

fn main() {}
