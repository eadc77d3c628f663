struct Doc;

// No action: the engine needs one.
#[portcullis::authorize(Doc)]
async fn no_action() {}

// An empty action name.
#[portcullis::authorize(Doc, action = " ")]
async fn empty_action() {}

// One resource per handler.
#[portcullis::authorize(Doc, action = "read")]
#[portcullis::owner_only(Doc)]
async fn two_resources() {}

fn main() {}
