//! Property tests of the `WWW-Authenticate` values portcullis renders.
//!
//! Everything the [`Challenge`] builder accepts must render as a field value that an independent
//! RFC 9110 §11 parser (written here, not borrowed from the crate under test) reads back to
//! exactly the same parameters, each at most once; everything outside the RFC 6750 character
//! sets must be refused by the builder. Every [`Denial`] must render a challenge that parses, with
//! an `error` code that matches its status.

// Clippy allows unwrap/expect in `#[test]` functions only; the helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is a failed test")]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use axum::response::IntoResponse;
use http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use portcullis::config::{ResourceMetadata, SettingError};
use portcullis::response::{Challenge, ChallengeError, ErrorCode};
use portcullis::{
    ConfigError, Denial, Key, Roles, Verifier,
    authorization::{PolicyRefusal, RoleRequirement, ScopeRequirement, ScopeRule},
    response::{DenialKind, Disclosure, InvalidRequestReason, InvalidTokenReason, NotFoundReason},
};
use proptest::prelude::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// An RFC 9110 §11 challenge parser
// ---------------------------------------------------------------------------------------------
//
//   WWW-Authenticate = #challenge
//   challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//   auth-scheme      = token
//   auth-param       = token BWS "=" BWS ( token / quoted-string )
//   token68          = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//   #element         = [ element ] *( OWS "," OWS [ element ] )

/// One parsed challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    scheme: String,
    token68: Option<String>,
    /// In order of appearance, names as written, values unquoted.
    params: Vec<(String, String)>,
}

impl Parsed {
    /// The params by lowercase name; an error when a name repeats (names are case-insensitive).
    fn unique_params(&self) -> Result<BTreeMap<String, String>, String> {
        let mut map = BTreeMap::new();
        for (name, value) in &self.params {
            if map.insert(name.to_ascii_lowercase(), value.clone()).is_some() {
                return Err(format!("the auth-param {name:?} appears more than once"));
            }
        }
        Ok(map)
    }
}

const fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

const fn is_token68_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// `qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text`
const fn is_qdtext(byte: u8) -> bool {
    matches!(byte, b'\t' | b' ' | 0x21 | 0x23..=0x5B | 0x5D..=0x7E | 0x80..=0xFF)
}

/// What may follow a backslash: `HTAB / SP / VCHAR / obs-text`.
const fn is_quotable(byte: u8) -> bool {
    matches!(byte, b'\t' | b' ' | 0x21..=0x7E | 0x80..=0xFF)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at byte {} of {:?}", self.pos, String::from_utf8_lossy(self.bytes))
    }

    /// OWS / BWS: `*( SP / HTAB )`; returns how many bytes were skipped.
    fn skip_ows(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `*SP`; returns how many.
    fn skip_sp(&mut self) -> usize {
        let start = self.pos;
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        self.pos - start
    }

    fn take_while(&mut self, accept: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&accept) {
            self.pos += 1;
        }
        // Only ASCII bytes are ever accepted here, so the slice is UTF-8.
        std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or_default()
    }

    fn token(&mut self) -> Result<&'a str, String> {
        let token = self.take_while(is_tchar);
        if token.is_empty() { Err(self.error("expected a token")) } else { Ok(token) }
    }

    fn quoted_string(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a quoted-string"));
        }
        self.pos += 1;
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated quoted-string")),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(value)
                        .map_err(|_| self.error("quoted-string is not UTF-8"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(byte) if is_quotable(byte) => value.push(byte),
                        _ => return Err(self.error("invalid quoted-pair")),
                    }
                    self.pos += 1;
                }
                Some(byte) if is_qdtext(byte) => {
                    value.push(byte);
                    self.pos += 1;
                }
                Some(_) => return Err(self.error("invalid character in quoted-string")),
            }
        }
    }

    /// Skips OWS, commas and empty list elements; `true` when a comma was skipped.
    fn skip_list_separators(&mut self) -> bool {
        let mut comma = false;
        loop {
            self.skip_ows();
            if self.peek() == Some(b',') {
                self.pos += 1;
                comma = true;
            } else {
                return comma;
            }
        }
    }

    /// A token68 that ends the challenge (followed by OWS and a comma or the end), or `None`
    /// with the cursor where it was.
    fn token68(&mut self) -> Option<String> {
        let start = self.pos;
        let body = self.take_while(is_token68_char).len();
        if body == 0 {
            self.pos = start;
            return None;
        }
        while self.peek() == Some(b'=') {
            self.pos += 1;
        }
        let end = self.pos;
        self.skip_ows();
        if self.at_end() || self.peek() == Some(b',') {
            Some(String::from_utf8_lossy(&self.bytes[start..end]).into_owned())
        } else {
            self.pos = start;
            None
        }
    }

    /// `true` when a `token BWS "="` starts here: an auth-param rather than a new challenge.
    fn auth_param_ahead(&mut self) -> bool {
        let start = self.pos;
        let is_param = self.token().is_ok() && {
            self.skip_ows();
            self.peek() == Some(b'=')
        };
        self.pos = start;
        is_param
    }
}

/// Parses a whole `WWW-Authenticate` field value into its challenges.
fn parse_www_authenticate(value: &str) -> Result<Vec<Parsed>, String> {
    let mut cursor = Cursor { bytes: value.as_bytes(), pos: 0 };
    let mut challenges = Vec::new();
    loop {
        cursor.skip_list_separators();
        if cursor.at_end() {
            break;
        }
        let scheme = cursor.token()?.to_owned();
        let mut challenge = Parsed { scheme, token68: None, params: Vec::new() };
        let spaces = cursor.skip_sp();
        cursor.skip_ows();
        if cursor.at_end() || cursor.peek() == Some(b',') {
            challenges.push(challenge);
            continue;
        }
        if spaces == 0 {
            return Err(cursor.error("expected SP after the auth-scheme"));
        }
        if let Some(token68) = cursor.token68() {
            challenge.token68 = Some(token68);
            challenges.push(challenge);
            continue;
        }
        // #auth-param, until the end or the start of the next challenge.
        loop {
            let name = cursor.token()?.to_owned();
            cursor.skip_ows();
            if cursor.peek() != Some(b'=') {
                return Err(cursor.error("expected '=' after an auth-param name"));
            }
            cursor.pos += 1;
            cursor.skip_ows();
            let value = if cursor.peek() == Some(b'"') {
                cursor.quoted_string()?
            } else {
                cursor.token()?.to_owned()
            };
            challenge.params.push((name, value));
            cursor.skip_ows();
            if cursor.at_end() {
                break;
            }
            if !cursor.skip_list_separators() {
                return Err(cursor.error("expected ',' between auth-params"));
            }
            if cursor.at_end() || !cursor.auth_param_ahead() {
                break;
            }
        }
        challenges.push(challenge);
    }
    if challenges.is_empty() {
        return Err("no challenge".to_owned());
    }
    Ok(challenges)
}

/// Parses a value that must hold exactly one `Bearer` challenge made of auth-params, each at
/// most once, and returns them by lowercase name.
fn parse_bearer(value: &str) -> Result<BTreeMap<String, String>, String> {
    let challenges = parse_www_authenticate(value)?;
    let [challenge] = challenges.as_slice() else {
        return Err(format!("expected one challenge, got {challenges:?}"));
    };
    if !challenge.scheme.eq_ignore_ascii_case("Bearer") {
        return Err(format!("expected the Bearer scheme, got {:?}", challenge.scheme));
    }
    if challenge.token68.is_some() {
        return Err(format!("a Bearer challenge holds auth-params, not {challenge:?}"));
    }
    challenge.unique_params()
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

#[test]
fn the_parser_reads_rfc_9110_examples() {
    let parsed = parse_www_authenticate(
        r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
    )
    .unwrap();
    assert_eq!(
        parsed,
        [
            Parsed {
                scheme: "Newauth".into(),
                token68: None,
                params: params(&[("realm", "apps"), ("type", "1"), ("title", "Login to \"apps\"")]),
            },
            Parsed {
                scheme: "Basic".into(),
                token68: None,
                params: params(&[("realm", "simple")])
            },
        ]
    );
    assert_eq!(
        parse_www_authenticate("Basic dXNlcjpwYXNz==, Negotiate").unwrap(),
        [
            Parsed {
                scheme: "Basic".into(),
                token68: Some("dXNlcjpwYXNz==".into()),
                params: vec![]
            },
            Parsed { scheme: "Negotiate".into(), token68: None, params: vec![] },
        ]
    );
    // BWS around "=", OWS and empty elements around commas.
    assert_eq!(
        parse_bearer("Bearer realm = \"x\" ,, error=invalid_token ,").unwrap(),
        BTreeMap::from([
            ("realm".to_owned(), "x".to_owned()),
            ("error".to_owned(), "invalid_token".to_owned())
        ])
    );
    assert_eq!(parse_bearer(r#"Bearer realm="a\\b, c=\"d\"""#).unwrap()["realm"], r#"a\b, c="d""#);
}

#[test]
fn the_parser_refuses_what_the_grammar_does_not_allow() {
    for value in [
        "",
        ",",
        "Bearer realm=\"x",
        "Bearer error=x, realm=",
        "Bearer realm=\"x\" error=\"y\"",
        "Bearer realm=a b",
        "Bearer \"x\"",
        "Bearer realm=\"a\u{1}\"",
        "Bearer realm=\"a\\\u{1}\"",
        "Bearer realm=a\"b\"",
        "\"Bearer\"",
        "Bearer =x",
    ] {
        assert!(parse_www_authenticate(value).is_err(), "{value:?} parsed");
    }
    assert!(parse_bearer("Bearer realm=\"a\", Realm=\"b\"").is_err(), "names are case-insensitive");
    assert!(parse_bearer("Bearer abc").is_err(), "a token68 is not a Bearer challenge");
    assert!(parse_bearer("Bearer realm=").is_err(), "a token68 is not a Bearer challenge");
    assert!(parse_bearer("Basic realm=\"a\"").is_err());
    assert!(parse_bearer("Bearer realm=\"a\", Basic realm=\"b\"").is_err());
}

// ---------------------------------------------------------------------------------------------
// The builder
// ---------------------------------------------------------------------------------------------

/// RFC 6750 §3 text for `realm`-like values and `error_description`: `%x20-21 / %x23-5B / %x5D-7E`.
const TEXT: &str = "[\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]";
/// One character outside [`TEXT`]: controls, `"`, `\`, DEL and all of non-ASCII.
const NOT_TEXT: &str = "[^\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]";
/// RFC 6749 `scope-token` and RFC 6750 `error_uri` characters: `%x21 / %x23-5B / %x5D-7E`.
const NQCHAR: &str = "[\\x21\\x23-\\x5B\\x5D-\\x7E]";
/// One character outside [`NQCHAR`], space included.
const NOT_NQCHAR: &str = "[^\\x21\\x23-\\x5B\\x5D-\\x7E]";

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("{TEXT}{{0,{max}}}")).unwrap()
}

fn nq(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("{NQCHAR}{{1,{max}}}")).unwrap()
}

/// A value that holds at least one character matching `bad`, among characters of `good`.
fn spoiled(good: &'static str, bad: &'static str) -> impl Strategy<Value = String> {
    let part = move || proptest::string::string_regex(&format!("{good}{{0,8}}")).unwrap();
    (part(), proptest::string::string_regex(bad).unwrap(), part())
        .prop_map(|(before, bad, after)| format!("{before}{bad}{after}"))
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::InvalidRequest),
        Just(ErrorCode::InvalidToken),
        Just(ErrorCode::InsufficientScope),
        Just(ErrorCode::InvalidDpopProof),
        Just(ErrorCode::UseDpopNonce),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_accepted_challenge_parses_back_to_the_same_params(
        realm in text(40),
        error in proptest::option::of(error_code()),
        description in proptest::option::of(text(60)),
        uri in proptest::option::of(nq(40)),
        scopes in proptest::collection::vec(nq(12), 0..5),
        metadata in proptest::option::of(nq(60)),
    ) {
        let mut challenge = Challenge::new(realm.clone()).unwrap();
        let mut expected = BTreeMap::from([("realm".to_owned(), realm.clone())]);
        if let Some(code) = error {
            challenge = challenge.error(code);
            expected.insert("error".into(), code.as_str().into());
        }
        if let Some(description) = &description {
            challenge = challenge.description(description.clone()).unwrap();
            expected.insert("error_description".into(), description.clone());
        }
        if let Some(uri) = &uri {
            challenge = challenge.error_uri(uri.clone()).unwrap();
            expected.insert("error_uri".into(), uri.clone());
        }
        challenge = challenge.scopes(&scopes).unwrap();
        if !scopes.is_empty() {
            expected.insert("scope".into(), scopes.join(" "));
        }
        if let Some(url) = &metadata {
            challenge = challenge.resource_metadata(url.clone()).unwrap();
            expected.insert("resource_metadata".into(), url.clone());
        }

        let rendered = challenge.to_string();
        let header_value = challenge.to_header_value();
        prop_assert_eq!(header_value.to_str().unwrap(), rendered.as_str());
        prop_assert_eq!(challenge.realm(), realm.as_str());
        let parsed = parse_bearer(&rendered).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parsed, expected, "{}", rendered);
    }

    #[test]
    fn values_outside_the_character_sets_are_refused(
        bad_text in spoiled(TEXT, NOT_TEXT),
        bad_nq in spoiled(NQCHAR, NOT_NQCHAR),
        good_scopes in proptest::collection::vec(nq(12), 0..3),
        position in 0usize..3,
    ) {
        prop_assert_eq!(
            Challenge::new(bad_text.clone()),
            Err(ChallengeError::InvalidText("realm"))
        );
        let base = Challenge::new("api").unwrap();
        prop_assert_eq!(
            base.clone().description(bad_text.clone()),
            Err(ChallengeError::InvalidText("error_description"))
        );
        prop_assert_eq!(base.clone().error_uri(bad_nq.clone()), Err(ChallengeError::InvalidUri));
        prop_assert_eq!(
            base.clone().resource_metadata(bad_nq.clone()),
            Err(ChallengeError::InvalidUri)
        );

        let mut scopes = good_scopes.clone();
        scopes.insert(position.min(scopes.len()), bad_nq.clone());
        prop_assert_eq!(base.clone().scopes(&scopes), Err(ChallengeError::InvalidScope));
        let mut scopes = good_scopes;
        scopes.insert(position.min(scopes.len()), String::new());
        prop_assert_eq!(base.clone().scopes(&scopes), Err(ChallengeError::InvalidScope));
        prop_assert_eq!(base.error_uri(""), Err(ChallengeError::InvalidUri));

        // The verifier's realm goes through the same check.
        let built = Verifier::builder()
            .realm(bad_text)
            .issuer("i")
            .audience("a")
            .key(Key::hmac([7u8; 32]).unwrap())
            .build();
        prop_assert!(
            matches!(built, Err(ConfigError::Setting(SettingError::InvalidRealm(_)))),
            "{:?}",
            built
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Denials
// ---------------------------------------------------------------------------------------------

const TOKEN_REASONS: [InvalidTokenReason; 18] = InvalidTokenReason::ALL;

const REQUEST_REASONS: [InvalidRequestReason; 2] =
    [InvalidRequestReason::SeveralAuthorizationHeaders, InvalidRequestReason::SeveralTransports];

/// A scope requirement of up to three rules. Requirements are `'static` (the macros build them
/// as statics), so the generated ones are leaked: a few bytes per case.
fn requirement() -> impl Strategy<Value = ScopeRequirement> {
    proptest::collection::vec((any::<bool>(), proptest::collection::vec(nq(10), 0..4)), 0..4)
        .prop_map(|rules| {
            let rules: Vec<ScopeRule> = rules
                .into_iter()
                .map(|(all, scopes)| {
                    let scopes: Vec<&'static str> =
                        scopes.into_iter().map(|s| &*Box::leak(s.into_boxed_str())).collect();
                    let scopes: &'static [&'static str] = Box::leak(scopes.into_boxed_slice());
                    if all { ScopeRule::All(scopes) } else { ScopeRule::Any(scopes) }
                })
                .collect();
            ScopeRequirement::new(Box::leak(rules.into_boxed_slice()))
        })
}

/// A role requirement of up to three rules (leaked, as [`requirement`]'s), and the roles of
/// the unmet rules for a token granted some roles, as the guard computes them.
fn missing_role() -> impl Strategy<Value = DenialKind> {
    let granted = proptest::collection::vec(nq(10), 0..3);
    (requirement(), granted).prop_map(|(scopes, granted)| {
        let required = RoleRequirement::new(scopes.rules());
        let missing = required.missing(&Roles::new(granted));
        DenialKind::MissingRole { required, missing }
    })
}

/// The closed set of policy refusals, and sentences of a policy's own: within RFC 6750's
/// `error_description` characters, and outside them (then only `detail` carries it).
const POLICY_REFUSALS: [PolicyRefusal; 6] = [
    PolicyRefusal::NOT_PERMITTED,
    PolicyRefusal::CLAIM_NOT_SATISFIED,
    PolicyRefusal::ACCOUNT_NOT_ELIGIBLE,
    PolicyRefusal::because("Outside office hours"),
    PolicyRefusal::because("Pas aujourd\u{2019}hui"),
    PolicyRefusal::because("Say \"please\""),
];

fn denial_kind() -> impl Strategy<Value = DenialKind> {
    prop_oneof![
        missing_role(),
        proptest::sample::select(&POLICY_REFUSALS[..]).prop_map(DenialKind::PolicyRefused),
        Just(DenialKind::ActionNotPermitted),
        Just(DenialKind::MissingCredentials),
        proptest::sample::select(&TOKEN_REASONS[..]).prop_map(DenialKind::InvalidToken),
        proptest::sample::select(&REQUEST_REASONS[..]).prop_map(DenialKind::InvalidRequest),
        requirement().prop_map(DenialKind::InsufficientScope),
        proptest::sample::select(
            &[NotFoundReason::Absent, NotFoundReason::NotOwner, NotFoundReason::InvalidId][..]
        )
        .prop_map(DenialKind::NotFound),
        (0u64..200_000, 0u32..1_000_000_000).prop_map(|(secs, nanos)| {
            DenialKind::KeysUnavailable { retry_after: Duration::new(secs, nanos) }
        }),
        (0u64..200_000, 0u32..1_000_000_000).prop_map(|(secs, nanos)| {
            DenialKind::IntrospectionUnavailable { retry_after: Duration::new(secs, nanos) }
        }),
        Just(DenialKind::LookupFailed),
    ]
}

fn disclosure() -> impl Strategy<Value = Disclosure> {
    prop_oneof![Just(Disclosure::Production), Just(Disclosure::Development)]
}

/// Renders `denial` and reads the body.
fn render(denial: Denial) -> (StatusCode, HeaderMap, Value) {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME
        .get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("a runtime"));
    let (parts, body) = denial.into_response().into_parts();
    let bytes = runtime.block_on(body.collect()).expect("an in-memory body").to_bytes();
    let body = serde_json::from_slice(&bytes).expect("a JSON body");
    (parts.status, parts.headers, body)
}

/// RFC 6750 §3's `error_description` characters: `%x20-21 / %x23-5B / %x5D-7E`.
fn fits_error_description(text: &str) -> bool {
    text.bytes().all(|byte| matches!(byte, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// The `error_description` a Development-mode denial of `kind` carries, if any: a sentence
/// outside RFC 6750's characters is left out of the challenge (and stays in `detail`).
fn expected_description(kind: &DenialKind) -> Option<String> {
    let text = match kind {
        DenialKind::InvalidToken(reason) => reason.description().to_owned(),
        DenialKind::InvalidRequest(reason) => reason.description().to_owned(),
        DenialKind::InsufficientScope(_) => "The access token lacks a required scope".to_owned(),
        DenialKind::MissingRole { missing, .. } => {
            format!("The access token lacks a required role: {}", missing.join(" "))
        }
        DenialKind::PolicyRefused(refusal) => refusal.description().to_owned(),
        _ => return None,
    };
    fits_error_description(&text).then_some(text)
}

/// The problem's `detail` for a denial of `kind` in `mode`, if any.
fn expected_detail(kind: &DenialKind, mode: Disclosure) -> Option<String> {
    let dev = mode == Disclosure::Development;
    let text = match kind {
        DenialKind::MissingCredentials if dev => {
            "The request carries no bearer access token".to_owned()
        }
        DenialKind::InvalidToken(reason) if dev => reason.description().to_owned(),
        // It describes the request, not the token: shown in both modes.
        DenialKind::InvalidRequest(reason) => reason.description().to_owned(),
        DenialKind::InsufficientScope(required) if dev => {
            format!("The access token lacks a required scope; required: {required}")
        }
        DenialKind::MissingRole { missing, .. } if dev => {
            format!("The access token lacks a required role; missing: {}", missing.join(" "))
        }
        DenialKind::PolicyRefused(refusal) if dev => refusal.description().to_owned(),
        DenialKind::ActionNotPermitted if dev => {
            "The caller may see this resource but may not perform this action on it".to_owned()
        }
        DenialKind::NotFound(_) if dev => "No resource with this id exists that the caller \
            owns; absent and foreign resources are answered alike"
            .to_owned(),
        DenialKind::KeysUnavailable { .. } => {
            "The keys to verify access tokens are temporarily unavailable; retry later".to_owned()
        }
        DenialKind::IntrospectionUnavailable { .. } => {
            "The access token cannot be checked with its issuer right now; retry later".to_owned()
        }
        _ => return None,
    };
    Some(text)
}

/// Resource identifiers, and the metadata URL each one's challenges name.
const RESOURCES: [(&str, &str); 3] = [
    ("https://api.example", "https://api.example/.well-known/oauth-protected-resource"),
    (
        "https://api.example/v1/docs/",
        "https://api.example/.well-known/oauth-protected-resource/v1/docs",
    ),
    ("http://127.0.0.1:3000", "http://127.0.0.1:3000/.well-known/oauth-protected-resource"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_denial_renders_a_parsable_challenge_that_matches_its_status(
        realm in text(30),
        mode in disclosure(),
        advertise in any::<bool>(),
        kind in denial_kind(),
        resource in proptest::option::of(proptest::sample::select(RESOURCES.to_vec())),
    ) {
        let mut builder = Verifier::builder();
        if let Some((resource, _)) = resource {
            builder = builder.resource_metadata(ResourceMetadata::new().resource(resource));
        }
        let verifier = builder
            .realm(realm.clone())
            .issuer("i")
            .audience("a")
            .key(Key::hmac([7u8; 32]).unwrap())
            .disclosure(mode)
            .advertise_scopes(advertise)
            .build()
            .unwrap();
        let (status, headers, body) = render(verifier.deny(kind.clone()));

        prop_assert_eq!(status, kind.status());
        let content_types: Vec<_> = headers.get_all(CONTENT_TYPE).iter().collect();
        prop_assert_eq!(content_types, ["application/problem+json"]);
        prop_assert_eq!(&body["type"], "about:blank");
        prop_assert_eq!(&body["title"], status.canonical_reason().unwrap());
        prop_assert_eq!(&body["status"], status.as_u16());
        let development = mode == Disclosure::Development;
        if !development
            && matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND)
        {
            prop_assert_eq!(body.get("detail"), None, "Production says nothing more");
        }
        let detail = expected_detail(&kind, mode);
        prop_assert_eq!(body.get("detail").and_then(Value::as_str), detail.as_deref());

        let challenges: Vec<_> = headers.get_all(WWW_AUTHENTICATE).iter().collect();
        // An action refused on a visible resource is the one 403 without a challenge: the token
        // is fine, and no other token would help.
        let challenged = matches!(
            status,
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) && kind != DenialKind::ActionNotPermitted;
        let code = match status {
            _ if !challenged => {
                prop_assert!(challenges.is_empty(), "{} carries no challenge", status);
                None
            }
            StatusCode::BAD_REQUEST => Some(ErrorCode::InvalidRequest),
            StatusCode::UNAUTHORIZED if kind == DenialKind::MissingCredentials => None,
            StatusCode::UNAUTHORIZED => Some(ErrorCode::InvalidToken),
            StatusCode::FORBIDDEN => Some(ErrorCode::InsufficientScope),
            _ => {
                prop_assert!(challenges.is_empty(), "{} carries no challenge", status);
                None
            }
        };
        if let [challenge] = challenges.as_slice() {
            let rendered = challenge.to_str().unwrap();
            let params = parse_bearer(rendered).map_err(TestCaseError::fail)?;
            let mut expected = BTreeMap::from([("realm".to_owned(), realm.clone())]);
            if let Some(code) = code {
                prop_assert_eq!(code.status(), status);
                expected.insert("error".into(), code.as_str().into());
                if development && let Some(description) = expected_description(&kind) {
                    expected.insert("error_description".into(), description);
                }
            }
            if let DenialKind::InsufficientScope(required) = &kind
                && advertise
                && !required.named_scopes().is_empty()
            {
                expected.insert("scope".into(), required.named_scopes().join(" "));
            }
            // With a resource identifier, every challenge names its metadata (RFC 9728 §5.1).
            if let Some((_, url)) = resource {
                expected.insert("resource_metadata".into(), url.to_owned());
            }
            prop_assert_eq!(params, expected, "{}", rendered);
        } else {
            prop_assert!(!challenged, "{} needs exactly one challenge, got {:?}", status, challenges);
        }

        let retry_after: Vec<_> = headers.get_all(RETRY_AFTER).iter().collect();
        match &kind {
            DenialKind::KeysUnavailable { retry_after: wait }
            | DenialKind::IntrospectionUnavailable { retry_after: wait } => {
                let expected = wait.as_secs().max(1).to_string();
                prop_assert_eq!(retry_after, [expected.as_str()]);
            }
            _ => prop_assert!(retry_after.is_empty()),
        }
    }
}
