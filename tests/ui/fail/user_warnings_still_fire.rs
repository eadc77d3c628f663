#![deny(unused_variables)]

#[portcullis::requires_scope("docs:read")]
async fn handler() {
    let unused = 1;
}

fn main() {}
