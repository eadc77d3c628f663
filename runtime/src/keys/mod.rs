//! The keys a token's signature is checked with: portcullis's own [`Algorithm`], sets of
//! keys ([`KeySet`]) selected by `kid` and `alg`, and how keys fetched from an identity provider
//! are kept fresh ([`KeyRefresh`]). A single key is a [`Key`].

// Layout: `algorithm` (portcullis's `Algorithm`; jsonwebtoken's stays inside the crate), `key`
// and `set` (keys bound to algorithms, the selection by `kid` and `alg`), `jwks` (the one JWKS
// parser, strict for configured sets, lenient for published ones), `source` (keys configured in
// code or fetched, one interface for the verifier), `remote` and `fetch` (feature `remote`:
// fetched from an identity provider and kept fresh).
//
// May import `respond` (for the reason a key is refused) and `digest` (the rotation
// fingerprint), nothing else of the crate.

mod algorithm;
#[cfg(feature = "remote")]
mod fetch;
mod jwks;
pub(crate) mod key;
#[cfg(feature = "remote")]
mod remote;
mod set;
mod source;

pub(crate) use algorithm::Family;
pub use algorithm::{Algorithm, UnknownAlgorithm};
/// The URL rules of every fetch from an identity provider, shared with `introspect`.
#[cfg(feature = "remote")]
pub(crate) use fetch::{discovered_url, is_clear_text_to_network, secure_url};
pub(crate) use key::Key;
pub use key::KeyError;
#[cfg(feature = "remote")]
pub(crate) use remote::KeyLocation;
#[cfg(feature = "remote")]
pub use remote::KeyRefresh;
pub use set::KeySet;
pub(crate) use source::{KeyRefusal, KeySource};
