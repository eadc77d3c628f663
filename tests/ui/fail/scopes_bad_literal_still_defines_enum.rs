portcullis::scopes! {
    /// Scopes.
    pub enum Scope {
        Bad = "docs write",
        DocsRead = "docs:read",
    }
}

// The enum is still defined: none of these uses causes a follow-on error.
const _: &str = Scope::DocsRead.as_str();
const _: &[Scope] = Scope::ALL;

#[portcullis::requires_scope(Scope::DocsRead)]
async fn _handler() {}

fn main() {}
