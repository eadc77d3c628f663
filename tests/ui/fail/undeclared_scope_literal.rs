portcullis::scopes! {
    /// Scopes.
    pub enum Scope {
        DocsRead = "docs:read",
        DocsWrite = "docs:write",
    }
}

#[portcullis::requires_scope("doc:write", declared_in = Scope)]
async fn handler() {}

fn main() {}
