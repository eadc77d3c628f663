//! Whether a verifier can verify tokens now: the readiness of its key sources.

use std::time::SystemTime;

/// Whether every key source of a verifier holds usable keys, from
/// [`Verifier::readiness`](crate::Verifier::readiness): what a readiness probe asks.
///
/// A source whose refresh fails but that still holds the keys of its last successful fetch is
/// ready (tokens are verified with those keys); [`KeySourceReadiness::failing_since`] tells
/// how long it has failed, for an alert. A source that never fetched its keys is not ready:
/// tokens get 503 until it does.
///
/// ```
/// # use portcullis::{Key, Verifier};
/// let verifier = Verifier::builder()
///     .issuer("https://issuer.example")
///     .audience("api")
///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
///     .build()?;
/// let readiness = verifier.readiness();
/// assert!(readiness.is_ready());
/// assert_eq!(readiness.key_sources()[0].source(), "configured");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    sources: Vec<KeySourceReadiness>,
}

impl Readiness {
    pub(crate) fn new(sources: Vec<KeySourceReadiness>) -> Self {
        Self { sources }
    }

    /// `true` when every key source holds at least one usable key.
    pub fn is_ready(&self) -> bool {
        self.sources.iter().all(KeySourceReadiness::has_usable_keys)
    }

    /// Each key source: one per issuer with keys of its own, and the shared one.
    pub fn key_sources(&self) -> &[KeySourceReadiness] {
        &self.sources
    }
}

/// The readiness of one key source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySourceReadiness {
    source: String,
    keys: usize,
    failing_since: Option<SystemTime>,
}

impl KeySourceReadiness {
    pub(crate) fn new(source: String, keys: usize, failing_since: Option<SystemTime>) -> Self {
        Self { source, keys, failing_since }
    }

    /// Which source: the configured issuer (discovery) or key set URL (without credentials,
    /// query or fragment), or `configured` for keys given in code. Configuration, never request
    /// data: the same value as the `portcullis.key_source` metric attribute.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How many usable keys the source holds.
    pub fn keys(&self) -> usize {
        self.keys
    }

    /// `true` when the source holds at least one usable key.
    pub fn has_usable_keys(&self) -> bool {
        self.keys > 0
    }

    /// Since when every fetch of the source has failed (the start of the first failed fetch
    /// after the last success, or since start), `None` while the last fetch succeeded (and
    /// always for keys given in code).
    pub fn failing_since(&self) -> Option<SystemTime> {
        self.failing_since
    }
}
