//! An independent reader of a `WWW-Authenticate` field value (RFC 9110 §11.6.1): a list of
//! challenges, each an auth-scheme and either a token68 or a list of `name=value` parameters
//! (token or quoted-string values), for the targets that check the challenges they get.

/// The challenges of `value`: each scheme with its parameters (a token68 is given the name
/// `""`). An error says where the value leaves the grammar.
pub fn parse(value: &str) -> Result<Vec<(String, Vec<(String, String)>)>, String> {
    let bytes = value.as_bytes();
    let mut i = 0;
    let mut challenges = Vec::new();
    loop {
        skip_list_separators(bytes, &mut i);
        if i == bytes.len() {
            break;
        }
        let scheme = token(bytes, &mut i).ok_or_else(|| format!("no auth-scheme at {i}"))?;
        let mut params = Vec::new();
        if i < bytes.len() && bytes[i] == b' ' {
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            params = parameters(value, &mut i)?;
        }
        challenges.push((scheme, params));
        skip_ows(bytes, &mut i);
        if i == bytes.len() {
            break;
        }
        if bytes[i] != b',' {
            return Err(format!("expected ',' at {i}"));
        }
    }
    if challenges.is_empty() {
        return Err("no challenge".into());
    }
    Ok(challenges)
}

fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn token(bytes: &[u8], i: &mut usize) -> Option<String> {
    let start = *i;
    while *i < bytes.len() && tchar(bytes[*i]) {
        *i += 1;
    }
    (start < *i).then(|| String::from_utf8_lossy(&bytes[start..*i]).into_owned())
}

fn skip_ows(bytes: &[u8], i: &mut usize) {
    while *i < bytes.len() && matches!(bytes[*i], b' ' | b'\t') {
        *i += 1;
    }
}

fn skip_list_separators(bytes: &[u8], i: &mut usize) {
    while *i < bytes.len() && matches!(bytes[*i], b' ' | b'\t' | b',') {
        *i += 1;
    }
}

/// Whether a parameter (`token BWS "="` then a value) starts at `i`.
fn parameter_ahead(bytes: &[u8], mut i: usize) -> bool {
    if token(bytes, &mut i).is_none() {
        return false;
    }
    skip_ows(bytes, &mut i);
    if bytes.get(i) != Some(&b'=') {
        return false;
    }
    i += 1;
    skip_ows(bytes, &mut i);
    matches!(bytes.get(i), Some(&b) if b == b'"' || tchar(b))
}

fn parameters(value: &str, i: &mut usize) -> Result<Vec<(String, String)>, String> {
    let bytes = value.as_bytes();
    if !parameter_ahead(bytes, *i) {
        // A token68: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
        let start = *i;
        while *i < bytes.len()
            && (bytes[*i].is_ascii_alphanumeric() || b"-._~+/".contains(&bytes[*i]))
        {
            *i += 1;
        }
        while *i < bytes.len() && bytes[*i] == b'=' {
            *i += 1;
        }
        return Ok(if start == *i {
            Vec::new()
        } else {
            vec![(String::new(), value[start..*i].to_owned())]
        });
    }
    let mut params = Vec::new();
    loop {
        let name = token(bytes, i).ok_or("no parameter name")?;
        skip_ows(bytes, i);
        *i += 1; // '=', checked by parameter_ahead
        skip_ows(bytes, i);
        let param = if bytes.get(*i) == Some(&b'"') {
            *i += 1;
            let mut text = Vec::new();
            loop {
                match bytes.get(*i) {
                    None => return Err("unterminated quoted-string".into()),
                    Some(b'"') => {
                        *i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let escaped = *bytes.get(*i + 1).ok_or("dangling escape")?;
                        text.push(escaped);
                        *i += 2;
                    }
                    Some(&b) if b == b'\t' || b >= 0x20 && b != 0x7f => {
                        text.push(b);
                        *i += 1;
                    }
                    Some(b) => return Err(format!("byte {b:#x} in a quoted-string")),
                }
            }
            String::from_utf8_lossy(&text).into_owned()
        } else {
            token(bytes, i).ok_or("empty parameter value")?
        };
        params.push((name, param));
        // Another parameter of this challenge, or the next challenge (or the end).
        let mut next = *i;
        skip_ows(bytes, &mut next);
        if bytes.get(next) != Some(&b',') {
            return Ok(params);
        }
        next += 1;
        skip_list_separators(bytes, &mut next);
        if !parameter_ahead(bytes, next) {
            return Ok(params);
        }
        *i = next;
    }
}
