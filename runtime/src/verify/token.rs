//! Finding the bearer token in a request (RFC 6750 §2).
//!
//! Nothing is decoded here. The size limit is applied at once, so an oversized header costs one
//! length comparison; the `b64token` grammar is checked by [`Presented::checked`], which the
//! verifier calls only for a token its cache does not know: a token the cache knows is, byte for
//! byte, one verified earlier, and passed the grammar then.

use std::borrow::Cow;

use http::header::{AUTHORIZATION, HeaderName};
use http::request::Parts;

use crate::respond::{DpopProofReason, InvalidRequestReason, InvalidTokenReason};

/// The request header that carries a DPoP proof (RFC 9449 §4.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");

/// The default limit on a token's length, in bytes.
///
/// Real access tokens from identity providers run from a few hundred bytes to about 2 KiB; 8 KiB
/// leaves room for large claim sets while keeping a flood of huge headers cheap to refuse.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// The query parameter of RFC 6750 §2.3.
pub(crate) const ACCESS_TOKEN_PARAM: &str = "access_token";

/// Where a request may carry its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenSources {
    /// Also accept `?access_token=…` (RFC 6750 §2.3). Off by default: URLs end up in logs.
    pub(crate) query: bool,
    /// Tokens longer than this are refused before any decoding.
    pub(crate) max_len: usize,
    /// Also recognise the `DPoP` scheme (RFC 9449 §7.1); otherwise it is another scheme.
    pub(crate) dpop: bool,
}

/// Why the request's credentials could not even be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExtractionError {
    /// The request is malformed: 400 `invalid_request`.
    InvalidRequest(InvalidRequestReason),
    /// A token is present but unusable: 401 `invalid_token`.
    InvalidToken(InvalidTokenReason),
    /// A token presented with the `DPoP` scheme is unusable: 401 `invalid_token`, with the
    /// `DPoP` challenge, since that is the scheme the client chose.
    UnusableDpopToken(InvalidTokenReason),
}

/// `true` for the `b64token` characters of RFC 6750 §2.1, the `=` padding aside: the plain
/// definition, against which the fast one is tested.
#[cfg(test)]
const fn is_b64token_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// `true` when `token` matches `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub(crate) fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    // Every request's token is scanned: a fold without early exit and with non-short-circuit
    // tests compiles to vector compares, which measured faster than a byte-by-byte `all`.
    !body.is_empty() && body.bytes().fold(true, |valid, byte| valid & is_b64token_byte(byte))
}

/// [`is_b64token_char`] without branches, for [`is_b64token`]'s vectorized scan.
#[inline(always)]
fn is_b64token_byte(byte: u8) -> bool {
    let lower = byte | 0x20;
    // One unsigned comparison per range: below the start wraps to a large number.
    (lower.wrapping_sub(b'a') < 26)
        | (byte.wrapping_sub(b'0') < 10)
        | (byte == b'-')
        | (byte == b'.')
        | (byte == b'_')
        | (byte == b'~')
        | (byte == b'+')
        | (byte == b'/')
}

/// A bearer token as the request presents it: within the size limit, grammar not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Presented<'a> {
    token: Cow<'a, [u8]>,
    /// Presented with the `DPoP` scheme, not `Bearer`.
    pub(crate) dpop: bool,
}

impl<'a> Presented<'a> {
    /// A token presented with the `DPoP` scheme outside an axum request, within the size limit.
    pub(crate) fn with_dpop(token: &'a [u8]) -> Self {
        Self { token: Cow::Borrowed(token), dpop: true }
    }

    /// The token's bytes, as sent.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.token
    }

    /// The token, when it matches the `b64token` grammar.
    pub(crate) fn checked(&self) -> Result<&str, InvalidTokenReason> {
        match std::str::from_utf8(&self.token) {
            Ok(token) if is_b64token(token) => Ok(token),
            // Covers `Bearer a b`, non-ASCII bytes and every other character outside the grammar.
            _ => Err(InvalidTokenReason::Malformed),
        }
    }
}

/// Reads the token from the request: `Ok(None)` when there are no credentials at all.
///
/// With the query transport on, a bearer `Authorization` header and an `access_token`
/// parameter in one request are refused as two transports, whether or not either token is
/// well formed: the client must learn that it sent its credentials twice.
pub(crate) fn extract<'a>(
    parts: &'a Parts,
    sources: TokenSources,
) -> Result<Option<Presented<'a>>, ExtractionError> {
    let from_header = from_authorization_header(parts, sources);
    let borrowed = |(token, dpop)| Presented { token: Cow::Borrowed(token), dpop };
    if !sources.query {
        return from_header.map(|token| token.map(borrowed));
    }
    if let Err(error @ ExtractionError::InvalidRequest(_)) = from_header {
        return Err(error);
    }
    let header_is_bearer = matches!(
        from_header,
        Ok(Some(_)) | Err(ExtractionError::InvalidToken(_) | ExtractionError::UnusableDpopToken(_))
    );
    // Parsed once: its presence decides the two-transports rule, its value is the token.
    let from_query = query_param(parts)?;
    if header_is_bearer && from_query.is_some() {
        return Err(ExtractionError::InvalidRequest(InvalidRequestReason::SeveralTransports));
    }
    match (from_header?, from_query) {
        (Some(token), _) => Ok(Some(borrowed(token))),
        (None, Some(value)) if !value.is_empty() => {
            let token = check_size(value.as_bytes(), sources.max_len)?.to_owned();
            Ok(Some(Presented { token: Cow::Owned(token), dpop: false }))
        }
        (None, _) => Ok(None),
    }
}

fn from_authorization_header(
    parts: &Parts,
    sources: TokenSources,
) -> Result<Option<(&[u8], bool)>, ExtractionError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(ExtractionError::InvalidRequest(
            InvalidRequestReason::SeveralAuthorizationHeaders,
        ));
    }
    let value = value.as_bytes();
    if sources.dpop {
        let dpop = parse_scheme(value, b"dpop", sources.max_len).map_err(|error| match error {
            ExtractionError::InvalidToken(reason) => ExtractionError::UnusableDpopToken(reason),
            other => other,
        })?;
        if let Some(token) = dpop {
            return Ok(Some((token, true)));
        }
    }
    Ok(parse_authorization(value, sources.max_len)?.map(|token| (token, false)))
}

/// The request's one `DPoP` header (RFC 9449 §4.1): `Ok(None)` when there is none, an invalid
/// proof when there are several (§4.3's first check: "not more than one DPoP HTTP request
/// header field").
pub(crate) fn proof(parts: &Parts) -> Result<Option<&[u8]>, DpopProofReason> {
    let mut values = parts.headers.get_all(DPOP).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(DpopProofReason::SeveralHeaders);
    }
    Ok(Some(value.as_bytes()))
}

/// Whether the request carries a `DPoP` header at all.
pub(crate) fn has_proof(parts: &Parts) -> bool {
    parts.headers.contains_key(DPOP)
}

/// Parses one `Authorization` field value.
///
/// `Ok(None)` for another scheme or `Bearer` without a token: the client did not try to present
/// a bearer token, so it gets the plain challenge.
pub(crate) fn parse_authorization(
    value: &[u8],
    max_len: usize,
) -> Result<Option<&[u8]>, ExtractionError> {
    parse_scheme(value, b"bearer", max_len)
}

/// Parses one `Authorization` field value of the scheme `scheme` (in lower case).
fn parse_scheme<'v>(
    value: &'v [u8],
    scheme_name: &[u8],
    max_len: usize,
) -> Result<Option<&'v [u8]>, ExtractionError> {
    // Field values carry no leading or trailing whitespace (RFC 9110 §5.5); hyper already strips
    // it, but a value built by hand may not have been.
    let value = value.trim_ascii();
    let scheme_len = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_len);
    if !scheme.eq_ignore_ascii_case(scheme_name) {
        return Ok(None);
    }
    let token = rest.trim_ascii_start();
    if token.is_empty() {
        return Ok(None);
    }
    check_size(token, max_len).map(Some)
}

/// Applies the size limit.
fn check_size(token: &[u8], max_len: usize) -> Result<&[u8], ExtractionError> {
    if token.len() > max_len {
        return Err(ExtractionError::InvalidToken(InvalidTokenReason::TooLarge));
    }
    Ok(token)
}

/// The `access_token` query parameter, form-decoded, even when empty; two of them are two
/// transports.
fn query_param(parts: &Parts) -> Result<Option<Cow<'_, str>>, ExtractionError> {
    let Some(query) = parts.uri.query() else { return Ok(None) };
    let mut found = None;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name != ACCESS_TOKEN_PARAM {
            continue;
        }
        if found.is_some() {
            return Err(ExtractionError::InvalidRequest(InvalidRequestReason::SeveralTransports));
        }
        found = Some(value);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_fast_character_test_is_the_plain_one() {
        for byte in 0..=u8::MAX {
            assert_eq!(is_b64token_byte(byte), is_b64token_char(byte), "{byte:#04x}");
        }
    }

    const LIMIT: usize = 64;

    fn parts(headers: &[&[u8]], uri: &str) -> Parts {
        let mut builder = http::Request::builder().uri(uri);
        for value in headers {
            builder = builder.header(AUTHORIZATION, http::HeaderValue::from_bytes(value).unwrap());
        }
        builder.body(()).unwrap().into_parts().0
    }

    /// What the verifier makes of a token its cache does not know: grammar checked.
    fn checked(presented: Option<Presented<'_>>) -> Result<Option<String>, ExtractionError> {
        presented
            .map(|token| token.checked().map(str::to_owned).map_err(ExtractionError::InvalidToken))
            .transpose()
    }

    fn header_only(headers: &[&[u8]]) -> Result<Option<String>, ExtractionError> {
        let parts = parts(headers, "/");
        extract(&parts, TokenSources { query: false, max_len: LIMIT, dpop: false })
            .and_then(checked)
    }

    fn with_query(headers: &[&[u8]], uri: &str) -> Result<Option<String>, ExtractionError> {
        let parts = parts(headers, uri);
        extract(&parts, TokenSources { query: true, max_len: LIMIT, dpop: false }).and_then(checked)
    }

    const MALFORMED: ExtractionError = ExtractionError::InvalidToken(InvalidTokenReason::Malformed);

    #[test]
    fn no_credentials_cases() {
        assert_eq!(header_only(&[]), Ok(None));
        assert_eq!(header_only(&[b"Basic dXNlcjpwYXNz"]), Ok(None));
        assert_eq!(header_only(&[b"Bearer"]), Ok(None));
        assert_eq!(header_only(&[b"Bearer    "]), Ok(None));
        assert_eq!(header_only(&[b"Bearerabc"]), Ok(None));
        assert_eq!(header_only(&[b""]), Ok(None));
    }

    #[test]
    fn scheme_is_case_insensitive_and_spaces_repeat() {
        for value in
            [&b"Bearer abc.def"[..], b"bearer abc.def", b"BEARER   abc.def", b"bEaReR abc.def "]
        {
            assert_eq!(header_only(&[value]), Ok(Some("abc.def".to_owned())), "{value:?}");
        }
    }

    #[test]
    fn grammar_violations_are_malformed() {
        for value in [
            &b"Bearer a b"[..],
            b"Bearer a,b",
            b"Bearer a=b",
            b"Bearer =",
            b"Bearer a\tb",
            b"Bearer \"abc\"",
            b"Bearer caf\xc3\xa9",
            b"Bearer \xff\xfe",
        ] {
            assert_eq!(header_only(&[value]), Err(MALFORMED), "{value:?}");
        }
        assert_eq!(header_only(&[b"Bearer abc=="]), Ok(Some("abc==".to_owned())));
    }

    #[test]
    fn size_limit_is_checked_first() {
        let at_limit = format!("Bearer {}", "a".repeat(LIMIT));
        let over = format!("Bearer {}", "a".repeat(LIMIT + 1));
        let over_and_malformed = format!("Bearer {}", " x".repeat(LIMIT));
        assert_eq!(header_only(&[at_limit.as_bytes()]), Ok(Some("a".repeat(LIMIT))));
        let too_large = Err(ExtractionError::InvalidToken(InvalidTokenReason::TooLarge));
        assert_eq!(header_only(&[over.as_bytes()]), too_large);
        assert_eq!(header_only(&[over_and_malformed.as_bytes()]), too_large);
    }

    #[test]
    fn several_authorization_headers_are_an_invalid_request() {
        let several =
            Err(ExtractionError::InvalidRequest(InvalidRequestReason::SeveralAuthorizationHeaders));
        assert_eq!(header_only(&[b"Bearer a", b"Bearer a"]), several);
        assert_eq!(header_only(&[b"Basic x", b"Bearer a"]), several);
    }

    #[test]
    fn query_transport_is_opt_in() {
        assert_eq!(header_only_uri("/?access_token=abc"), Ok(None));
        assert_eq!(with_query(&[], "/?access_token=abc"), Ok(Some("abc".to_owned())));
        // `+` and `/` arrive percent-encoded in a form-encoded query.
        assert_eq!(
            with_query(&[], "/?x=1&access_token=a%2Bb%2Fc%3D"),
            Ok(Some("a+b/c=".to_owned()))
        );
        assert_eq!(with_query(&[], "/?access_token="), Ok(None));
        assert_eq!(with_query(&[], "/?access_token=a+b"), Err(MALFORMED));
    }

    fn header_only_uri(uri: &str) -> Result<Option<String>, ExtractionError> {
        let parts = parts(&[], uri);
        extract(&parts, TokenSources { query: false, max_len: LIMIT, dpop: false })
            .and_then(checked)
    }

    #[test]
    fn several_transports_are_an_invalid_request() {
        let several = Err(ExtractionError::InvalidRequest(InvalidRequestReason::SeveralTransports));
        assert_eq!(with_query(&[b"Bearer abc"], "/?access_token=abc"), several);
        assert_eq!(with_query(&[], "/?access_token=a&access_token=b"), several);
        // Presence counts, not validity: a malformed header or an empty parameter is still sent.
        assert_eq!(with_query(&[b"Bearer a b"], "/?access_token=abc"), several);
        assert_eq!(with_query(&[b"Bearer abc"], "/?access_token="), several);
        // A header of another scheme is not a bearer transport.
        assert_eq!(with_query(&[b"Basic eA=="], "/?access_token=abc"), Ok(Some("abc".to_owned())));
        // Without the opt-in the query parameter is just an unrelated parameter.
        assert_eq!(header_only(&[b"Bearer abc"]), Ok(Some("abc".to_owned())));
    }

    fn b64token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._~+/-]{1,40}={0,3}"
    }

    proptest! {
        #[test]
        fn every_grammatical_token_is_accepted(token in b64token(), scheme in "(?i)bearer", spaces in " {1,4}") {
            let value = format!("{scheme}{spaces}{token}");
            prop_assert_eq!(header_only(&[value.as_bytes()]), Ok(Some(token)));
        }

        #[test]
        fn a_token_with_a_foreign_character_is_refused(
            left in b64token(),
            bad in "[^A-Za-z0-9._~+/= \\-]",
            right in "[A-Za-z0-9]{1,5}",
        ) {
            let token = format!("{}{bad}{right}", left.trim_end_matches('='));
            prop_assert!(!is_b64token(&token));
            if let Ok(value) = http::HeaderValue::from_str(&format!("Bearer {token}")) {
                prop_assert_eq!(header_only(&[value.as_bytes()]), Err(MALFORMED));
            }
        }

        #[test]
        fn arbitrary_header_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = parse_authorization(&bytes, LIMIT);
        }
    }
}
