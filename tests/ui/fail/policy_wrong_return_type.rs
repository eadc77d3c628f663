use http::request::Parts;
use portcullis::Principal;

#[portcullis::policy]
async fn office_hours(_principal: &Principal, _head: &Parts) -> Option<()> {
    None
}

fn main() {}
