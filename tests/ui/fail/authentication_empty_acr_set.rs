#[portcullis::requires_authentication(acr = any())]
async fn empty_set() {}

#[portcullis::requires_authentication(acr = "")]
async fn empty_value() {}

#[portcullis::requires_authentication()]
async fn nothing_required() {}

fn main() {}
