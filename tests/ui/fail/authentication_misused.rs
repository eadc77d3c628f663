#[portcullis::requires_authentication(acr = any("urn:mfa", "urn:mfa", "two words"), acr = "urn:hwk")]
#[portcullis::requires_authentication(max_age = "1h")]
async fn duplicated() {}

#[portcullis::authenticated(optional)]
#[portcullis::requires_authentication(max_age = "1h")]
async fn optional() {}

fn main() {}
