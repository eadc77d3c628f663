struct Doc;

// Two mistakes in two stacked attributes: both are reported in one build.
#[portcullis::requires_scope("docs read")]
#[portcullis::owner_only(Doc, state = Doc, state = Doc)]
async fn handler() {}

fn main() {}
