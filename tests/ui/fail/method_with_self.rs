struct Api;

impl Api {
    #[portcullis::authenticated]
    async fn handler(&self) {}
}

fn main() {}
