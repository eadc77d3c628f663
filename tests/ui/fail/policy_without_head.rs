use portcullis::Principal;

#[portcullis::policy]
fn office_hours(_principal: &Principal) -> bool {
    true
}

fn main() {}
