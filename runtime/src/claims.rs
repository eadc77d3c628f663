//! The registered claims every token must satisfy: `exp`, `nbf`, `iss`, `aud` (RFC 7519 §4.1).
//!
//! They are checked on the decoded claims before the signature, so that a flood of expired or
//! misdirected tokens costs no signature work (the signature is still checked before anything
//! is trusted), and so that the claims are parsed once per token.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::denial::InvalidTokenReason;

/// What the registered claims must say.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    /// The accepted issuers; `None` accepts any (or none).
    pub(crate) issuers: Option<Vec<String>>,
    /// The accepted audiences; `None` accepts any (or none).
    pub(crate) audiences: Option<Vec<String>>,
    /// The clock skew tolerated on `exp` and `nbf`, in seconds.
    pub(crate) leeway: u64,
}

impl ClaimRules {
    /// Checks `claims` at `now` (seconds since the epoch).
    pub(crate) fn check(
        &self,
        claims: &Map<String, Value>,
        now: u64,
    ) -> Result<(), InvalidTokenReason> {
        let exp = numeric_date(claims.get("exp"))?.ok_or(InvalidTokenReason::MissingClaim)?;
        if now >= exp.saturating_add(self.leeway) {
            return Err(InvalidTokenReason::Expired);
        }
        if let Some(nbf) = numeric_date(claims.get("nbf"))?
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(InvalidTokenReason::NotYetValid);
        }
        if let Some(issuers) = &self.issuers {
            // A single StringOrURI (RFC 7519 §4.1.1): an array is not an issuer.
            match claims.get("iss") {
                None => return Err(InvalidTokenReason::MissingClaim),
                Some(Value::String(iss)) if issuers.iter().any(|accepted| accepted == iss) => {}
                Some(Value::String(_)) => return Err(InvalidTokenReason::WrongIssuer),
                Some(_) => return Err(InvalidTokenReason::InvalidClaims),
            }
        }
        if let Some(audiences) = &self.audiences {
            let accepted = |aud: &str| audiences.iter().any(|accepted| accepted == aud);
            // One StringOrURI, or an array of them of which one must name this API (§4.1.3).
            match claims.get("aud") {
                None => return Err(InvalidTokenReason::MissingClaim),
                Some(Value::String(aud)) if accepted(aud) => {}
                Some(Value::String(_)) => return Err(InvalidTokenReason::WrongAudience),
                Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
                    if !list.iter().filter_map(Value::as_str).any(accepted) {
                        return Err(InvalidTokenReason::WrongAudience);
                    }
                }
                Some(_) => return Err(InvalidTokenReason::InvalidClaims),
            }
        }
        Ok(())
    }
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, possibly fractional, rounded down.
/// `None` when absent; an error when present but not a non-negative number.
pub(crate) fn numeric_date(value: Option<&Value>) -> Result<Option<u64>, InvalidTokenReason> {
    let Some(value) = value else { return Ok(None) };
    let number = value.as_number().ok_or(InvalidTokenReason::InvalidClaims)?;
    if let Some(seconds) = number.as_u64() {
        return Ok(Some(seconds));
    }
    match number.as_f64() {
        // `as` saturates: a date beyond u64 seconds is simply far away.
        Some(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(Some(seconds as u64)),
        _ => Err(InvalidTokenReason::InvalidClaims),
    }
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn rules() -> ClaimRules {
        ClaimRules {
            issuers: Some(vec!["https://i.example".into()]),
            audiences: Some(vec!["api".into()]),
            leeway: 30,
        }
    }

    fn check(claims: Value) -> Result<(), InvalidTokenReason> {
        let Value::Object(claims) = claims else { panic!("an object") };
        rules().check(&claims, NOW)
    }

    fn with(name: &str, value: Value) -> Value {
        let mut claims = json!({"exp": NOW + 60, "iss": "https://i.example", "aud": "api"});
        claims[name] = value;
        claims
    }

    #[test]
    fn valid_claims_pass() {
        assert_eq!(check(with("exp", json!(NOW + 60))), Ok(()));
        assert_eq!(check(with("aud", json!(["other", "api"]))), Ok(()));
        assert_eq!(check(with("exp", json!(NOW as f64 + 60.5))), Ok(()));
        assert_eq!(check(with("nbf", json!(NOW + 30))), Ok(()));
    }

    #[test]
    fn time_claims_with_leeway() {
        use InvalidTokenReason::*;
        assert_eq!(check(with("exp", json!(NOW - 29))), Ok(()));
        assert_eq!(check(with("exp", json!(NOW - 30))), Err(Expired));
        assert_eq!(check(with("nbf", json!(NOW + 31))), Err(NotYetValid));
        let Value::Object(mut claims) = with("exp", json!(NOW)) else { panic!() };
        claims.remove("exp");
        assert_eq!(rules().check(&claims, NOW), Err(MissingClaim));
    }

    #[test]
    fn wrong_types_are_invalid_claims() {
        use InvalidTokenReason::*;
        for (name, value) in [
            ("exp", json!("tomorrow")),
            ("exp", json!(-1)),
            ("exp", json!([NOW + 60])),
            ("exp", json!(null)),
            ("nbf", json!("0")),
            ("iss", json!(["https://i.example"])),
            ("iss", json!(7)),
            ("aud", json!(42)),
            ("aud", json!([42])),
            ("aud", json!({"aud": "api"})),
        ] {
            assert_eq!(check(with(name, value.clone())), Err(InvalidClaims), "{name}: {value}");
        }
        assert_eq!(check(with("iss", json!("https://I.example"))), Err(WrongIssuer));
        assert_eq!(check(with("aud", json!(["a", "b"]))), Err(WrongAudience));
        assert_eq!(check(with("aud", json!([]))), Err(WrongAudience));
    }
}
