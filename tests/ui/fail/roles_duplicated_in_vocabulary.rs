portcullis::roles! {
    /// Roles.
    pub enum Role {
        Admin = "documents-admin",
        Administrator = "documents-admin",
    }
}

fn main() {
    let _ = Role::Admin;
}
