use http::request::Parts;
use portcullis::Principal;

#[portcullis::policy]
fn office_hours(_principal: Principal, _head: &Parts) -> bool {
    true
}

fn main() {}
