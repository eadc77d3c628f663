struct Doc;

// An engine's action is a name, written as a string.
#[portcullis::authorize(Doc, action = read)]
async fn handler() {}

fn main() {}
