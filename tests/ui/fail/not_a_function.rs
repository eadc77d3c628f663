#[portcullis::requires_scope("docs:read")]
struct Handler;

fn main() {}
