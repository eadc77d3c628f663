use http::request::Parts;
use portcullis::Principal;

fn office_hours(_principal: &Principal, _head: &Parts) -> bool {
    true
}

#[portcullis::requires_policy(office_hours)]
async fn handler() {}

fn main() {}
