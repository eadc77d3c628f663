// With `state = …` named, a router state that lacks a policy's state is reported under the policy.
use axum::Router;
use axum::routing::get;
use http::request::Parts;
use portcullis::{Principal, Verifier};

#[derive(Clone)]
struct Blocklist;

#[portcullis::policy]
fn not_blocked(_principal: &Principal, _head: &Parts, _blocklist: &Blocklist) -> bool {
    true
}

#[portcullis::requires_policy(not_blocked, state = Verifier)]
async fn handler() {}

fn main() {
    let _: Router<Verifier> = Router::new().route("/", get(handler));
}
