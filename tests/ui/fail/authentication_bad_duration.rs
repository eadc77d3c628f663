#[portcullis::requires_authentication(max_age = "10 minutes")]
async fn spaced() {}

#[portcullis::requires_authentication(max_age = "5m1h")]
async fn out_of_order() {}

#[portcullis::requires_authentication(max_age = -600)]
async fn negative() {}

fn main() {}
