//! The challenge builder (every error code, RFC 9728's `resource_metadata` too): any input is
//! either refused, or rendered to a `WWW-Authenticate` value that an independent RFC 9110 §11
//! parser reads back to exactly the parameters given.
#![no_main]

use arbitrary::Arbitrary;
use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use portcullis::response::{Challenge, ErrorCode};

#[derive(Arbitrary, Debug)]
struct Input {
    realm: String,
    code: Option<u8>,
    description: Option<String>,
    uri: Option<String>,
    scopes: Vec<String>,
    resource_metadata: Option<String>,
}

// The RFC 6750 §3 character sets, written independently of the crate.
fn description_ok(text: &str) -> bool {
    text.bytes()
        .all(|b| b == 0x20 || b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

fn nqchar_ok(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses `Bearer` followed by a comma-separated list of `token BWS = BWS (token / quoted-string)`.
fn parse(value: &str) -> Result<Vec<(String, String)>, String> {
    let bytes = value.as_bytes();
    let mut i = 0;
    let scheme_end = bytes.iter().position(|&b| !tchar(b)).unwrap_or(bytes.len());
    if &value[..scheme_end] != "Bearer" {
        return Err(format!("scheme {:?}", &value[..scheme_end]));
    }
    i = scheme_end.max(i);
    let ws = |i: &mut usize| {
        while *i < bytes.len() && (bytes[*i] == b' ' || bytes[*i] == b'\t') {
            *i += 1;
        }
    };
    if i >= bytes.len() || bytes[i] != b' ' {
        return Err("no space after the scheme".into());
    }
    ws(&mut i);
    let mut params = Vec::new();
    loop {
        let start = i;
        while i < bytes.len() && tchar(bytes[i]) {
            i += 1;
        }
        if start == i {
            return Err(format!("no param name at {i}"));
        }
        let name = value[start..i].to_owned();
        ws(&mut i);
        if bytes.get(i) != Some(&b'=') {
            return Err(format!("no '=' at {i}"));
        }
        i += 1;
        ws(&mut i);
        let mut param = String::new();
        if bytes.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Err("unterminated quoted-string".into()),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let Some(&escaped) = bytes.get(i + 1) else {
                            return Err("dangling escape".into());
                        };
                        param.push(escaped as char);
                        i += 2;
                    }
                    Some(&b) if b == b'\t' || (0x20..=0x7e).contains(&b) => {
                        param.push(b as char);
                        i += 1;
                    }
                    Some(b) => return Err(format!("byte {b:#x} in a quoted-string")),
                }
            }
        } else {
            let start = i;
            while i < bytes.len() && tchar(bytes[i]) {
                i += 1;
            }
            if start == i {
                return Err("empty token value".into());
            }
            param.push_str(&value[start..i]);
        }
        params.push((name, param));
        ws(&mut i);
        if i == bytes.len() {
            return Ok(params);
        }
        if bytes[i] != b',' {
            return Err(format!("expected ',' at {i}"));
        }
        i += 1;
        ws(&mut i);
    }
}

fuzz_target!(|input: Input| {
    let code = input.code.map(|c| match c % 5 {
        0 => ErrorCode::InvalidRequest,
        1 => ErrorCode::InvalidToken,
        2 => ErrorCode::InsufficientScope,
        3 => ErrorCode::InvalidDpopProof,
        _ => ErrorCode::UseDpopNonce,
    });
    let acceptable = description_ok(&input.realm)
        && input.description.as_deref().is_none_or(description_ok)
        && input.uri.as_deref().is_none_or(nqchar_ok)
        && input.scopes.iter().all(|s| nqchar_ok(s) && !s.contains(' '))
        && input.resource_metadata.as_deref().is_none_or(nqchar_ok);

    let mut built = Challenge::new(input.realm.clone());
    if let Some(code) = code {
        built = built.map(|c| c.error(code));
    }
    if let Some(description) = &input.description {
        built = built.and_then(|c| c.description(description.clone()));
    }
    if let Some(uri) = &input.uri {
        built = built.and_then(|c| c.error_uri(uri.clone()));
    }
    built = built.and_then(|c| c.scopes(&input.scopes));
    if let Some(url) = &input.resource_metadata {
        built = built.and_then(|c| c.resource_metadata(url.clone()));
    }

    let challenge = match built {
        Err(_) => {
            assert!(!acceptable, "refused an acceptable input: {input:?}");
            return;
        }
        Ok(challenge) => {
            assert!(acceptable, "accepted an input outside the character sets: {input:?}");
            challenge
        }
    };
    let rendered = challenge.to_string();
    let header = HeaderValue::from_str(&rendered).expect("a valid field value");
    assert_eq!(challenge.to_header_value(), header);
    assert_eq!(challenge.realm(), input.realm);

    let mut expected = vec![("realm".to_owned(), input.realm.clone())];
    if let Some(code) = code {
        expected.push(("error".to_owned(), code.as_str().to_owned()));
    }
    if let Some(description) = &input.description {
        expected.push(("error_description".to_owned(), description.clone()));
    }
    if let Some(uri) = &input.uri {
        expected.push(("error_uri".to_owned(), uri.clone()));
    }
    if !input.scopes.is_empty() {
        expected.push(("scope".to_owned(), input.scopes.join(" ")));
    }
    if let Some(url) = &input.resource_metadata {
        expected.push(("resource_metadata".to_owned(), url.clone()));
    }
    let parsed = parse(&rendered).unwrap_or_else(|e| panic!("{rendered:?} does not parse: {e}"));
    assert_eq!(parsed, expected, "{rendered:?}");
});
