#[portcullis::requires_authentication(acr = "urn:documents:mfa", freshness = "10m")]
async fn handler() {}

fn main() {}
