//! The keys a token's signature is checked with: portcullis's own [`Algorithm`], sets of
//! keys ([`KeySet`]) selected by `kid` and `alg`, and how keys fetched from an identity provider
//! are kept fresh ([`KeyRefresh`]). A single key is a [`Key`].

// Layout: `algorithm` (portcullis's `Algorithm`; jsonwebtoken's stays inside the crate), `key`
// and `set` (keys bound to algorithms, the selection by `kid` and `alg`), `jwks` (the one JWKS
// parser, strict for configured sets, lenient for published ones, and `KeySet::from_jwks`),
// `source` (keys configured in code or fetched, one interface for the verifier), `remote`
// (feature `jwks`: keys fetched from an identity provider and kept fresh), `fetch` (features
// `jwks`, `introspection`: the URL rules of every fetch, and the bounded GET).
//
// May import `respond` (for the reason a key is refused) and `digest` (the rotation
// fingerprint), nothing else of the crate.

mod algorithm;
#[cfg(any(feature = "jwks", feature = "introspection", feature = "authzen"))]
mod fetch;
mod jwks;
pub(crate) mod key;
#[cfg(feature = "jwks")]
mod remote;
mod set;
mod source;

pub(crate) use algorithm::Family;
pub use algorithm::{Algorithm, UnknownAlgorithm};
/// The readers of fetched documents, for the fuzz targets' entry points (`crate::fuzzing`).
#[cfg(all(fuzzing, feature = "jwks"))]
pub(crate) use fetch::{Fetched, jwks_uri};
/// The URL rules of every fetch from an identity provider, for `introspect` and `engine::authzen`.
#[cfg(any(feature = "introspection", feature = "authzen"))]
pub(crate) use fetch::{discovered_url, is_clear_text_to_network, secure_url};
/// Whether a document is a JSON object, for `introspect`'s discovery.
#[cfg(feature = "introspection")]
pub(crate) use jwks::is_json_object;
#[cfg(fuzzing)]
pub(crate) use jwks::{Mode as JwksMode, parse as parse_jwks};
pub(crate) use key::Key;
pub use key::KeyError;
#[cfg(feature = "jwks")]
pub(crate) use remote::KeyLocation;
#[cfg(feature = "jwks")]
pub use remote::KeyRefresh;
pub use set::KeySet;
pub(crate) use source::{KeyRefusal, KeySource};
