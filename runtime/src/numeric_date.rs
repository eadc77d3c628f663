//! RFC 7519 §2's NumericDate, as a token's and a DPoP proof's `exp`, `nbf` and `iat` are written.

use serde_json::Value;

/// The seconds since the epoch that `value` states, rounded down: an integer, or a fractional
/// number (`1700000000.5`), which the RFC allows. `None` for anything but a non-negative number.
pub(crate) fn seconds(value: &Value) -> Option<u64> {
    let number = value.as_number()?;
    if let Some(seconds) = number.as_u64() {
        return Some(seconds);
    }
    // `as` saturates: a date beyond u64 seconds is simply far away.
    number.as_f64().filter(|seconds| seconds.is_finite() && *seconds >= 0.0).map(|s| s as u64)
}
