#[portcullis::authenticated(optional)]
#[portcullis::requires_scope("docs:read")]
async fn handler() {}

fn main() {}
