struct Doc;

#[portcullis::owner_only(Doc)]
#[portcullis::owner_only(Doc)]
async fn handler() {}

fn main() {}
