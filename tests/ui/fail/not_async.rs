#[portcullis::authenticated]
fn handler() {}

// The function is still emitted: using it causes no follow-on error.
fn _uses_it() {
    handler();
}

fn main() {}
