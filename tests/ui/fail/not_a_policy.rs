struct OfficeHours;

#[portcullis::requires_policy(OfficeHours)]
async fn handler() {}

fn main() {}
