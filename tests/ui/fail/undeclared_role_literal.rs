portcullis::roles! {
    /// Roles.
    pub enum Role {
        DocumentsAdmin = "documents-admin",
    }
}

#[portcullis::requires_role("documents-admn", declared_in = Role)]
async fn handler() {}

fn main() {}
