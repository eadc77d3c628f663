portcullis::scopes! {
    /// Scopes.
    pub enum Scope {
        DocsRead = "docs:read",
    }
}

#[portcullis::requires_scope(Scope::DocWrite)]
async fn handler() {}

fn main() {}
