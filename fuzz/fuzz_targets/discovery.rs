//! Discovery documents (OpenID Connect Discovery §3, RFC 8414 §2), read as the key refresh
//! reads one it fetched (through the `cfg(fuzzing)` entry point
//! `portcullis::fuzzing::discovered_jwks_uri`), served over https, over loopback http, or over
//! http to another host, with or without the development opt-in.
//!
//! Whatever the bytes: no panic; a `jwks_uri` is found only in a JSON object whose `issuer` is
//! exactly the configured issuer, and it is the document's `jwks_uri` as a URL parser reads it,
//! https whenever the document came over https, http only to a loopback address or with the
//! opt-in.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use portcullis::fuzzing::discovered_jwks_uri;
use serde_json::Value;

const ISSUER: &str = "https://idp.example";
const SERVED_AT: [&str; 3] = [
    "https://idp.example/.well-known/openid-configuration",
    "http://127.0.0.1:8080/.well-known/openid-configuration",
    "http://idp.example/.well-known/oauth-authorization-server",
];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    served_at: u8,
    allow_http: bool,
    body: &'a [u8],
}

fn loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

fuzz_target!(|input: Input<'_>| {
    let served_at = SERVED_AT[usize::from(input.served_at) % SERVED_AT.len()];
    let Ok(found) = discovered_jwks_uri(served_at, input.body, ISSUER, input.allow_http) else {
        return;
    };
    // Read with invalid UTF-8 replaced: serde skips a member it does not read without checking
    // its bytes, and what it does read (`issuer`, `jwks_uri`) was valid.
    let document: Value =
        serde_json::from_str(&String::from_utf8_lossy(input.body)).expect("a JSON document");
    assert_eq!(document["issuer"], ISSUER, "another issuer's document");
    let named = document["jwks_uri"].as_str().expect("a string jwks_uri");
    let url = url::Url::parse(named).expect("a URL");
    assert_eq!(found, url.as_str());
    if served_at.starts_with("https:") {
        assert_eq!(url.scheme(), "https", "a downgrade from https: {found}");
    }
    match url.scheme() {
        "https" => {}
        "http" => assert!(input.allow_http || loopback(&url), "clear text to the network: {found}"),
        other => panic!("the scheme {other}"),
    }
});
