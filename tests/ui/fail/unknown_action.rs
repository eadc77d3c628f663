use std::convert::Infallible;

struct Doc {
    owner: String,
}

impl portcullis::OwnedResource for Doc {
    type State = ();
    type Id = u64;
    type Error = Infallible;

    async fn load(_: u64, _: &()) -> Result<Option<Self>, Infallible> {
        Ok(None)
    }

    fn owner(&self) -> &str {
        &self.owner
    }
}

#[portcullis::owner_only(Doc, action = share)]
async fn handler() {}

fn main() {}
