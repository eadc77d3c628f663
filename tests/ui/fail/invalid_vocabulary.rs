portcullis::scopes! {
    /// Scopes.
    pub enum Scope {
        DocsRead = "docs read",
        DocsWrite = "docs:write",
        Writer = "docs:write",
    }
}

fn main() {}
