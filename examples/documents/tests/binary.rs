//! The real binary, as a newcomer runs it: no configuration, so development mode. The `curl`
//! commands it prints are parsed, sent over TCP in the printed order, and must get the status
//! their comment announces; then SIGTERM must stop it cleanly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_documents");

/// The prefixes of every setting the binary reads: the test's own variables of these
/// families are removed, so that the test sees the fresh-clone defaults.
const PREFIXES: [&str; 2] = ["DOCUMENTS_", "PORTCULLIS_"];

/// The server process; killed if the test fails before stopping it.
struct Server {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the binary on a free loopback port with `vars` set.
    fn start(vars: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BINARY);
        for (var, _) in std::env::vars_os() {
            if PREFIXES.iter().any(|prefix| var.to_string_lossy().starts_with(prefix)) {
                command.env_remove(var);
            }
        }
        command.env("DOCUMENTS_ADDR", "127.0.0.1:0").env("RUST_LOG", "info");
        command.envs(vars.iter().copied());
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the documents binary starts");
        let stdout = child.stdout.take().unwrap();
        let (lines, receiver) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Self { child, stdout: receiver, stderr: Some(stderr) }
    }

    /// The stdout lines up to and including the "Listening on" line; all of them if the process
    /// ends first.
    fn banner(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(60)) {
            let done = line.starts_with("Listening on http://");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    }

    /// Sends SIGTERM, waits for the exit, and returns whether it succeeded and the logs.
    fn terminate(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let mut status = None;
        for _ in 0..200 {
            if let Some(exit) = self.child.try_wait().unwrap() {
                status = Some(exit);
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let status = status.expect("the server stops within 10 s of SIGTERM");
        let logs = self.stderr.take().unwrap().join().unwrap();
        (status.success(), logs)
    }
}

/// Splits a shell line into words, as `sh` would for these commands: single quotes, double
/// quotes with `$NAME` expansion, and spaces.
fn shell_words(line: &str, vars: &HashMap<String, String>) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' if in_word => {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
            ' ' => {}
            '\'' => {
                in_word = true;
                word.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        '$' => {
                            let mut name = String::new();
                            while let Some(&c) = chars.peek() {
                                if !(c.is_ascii_alphanumeric() || c == '_') {
                                    break;
                                }
                                name.push(c);
                                chars.next();
                            }
                            word.push_str(vars.get(&name).unwrap_or_else(|| panic!("${name}")));
                        }
                        c => word.push(c),
                    }
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// A response read off the wire.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// What `curl -i [-X M] URL [-H 'h: v']… [-d data]` would send, sent over HTTP/1.1.
fn curl(words: &[String]) -> Reply {
    assert_eq!(words[0], "curl");
    let (mut method, mut url, mut headers, mut data) = (None, None, Vec::new(), None);
    let mut args = words[1..].iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-i" => {}
            "-X" => method = args.next().cloned(),
            "-H" => headers.push(args.next().unwrap().clone()),
            "-d" => data = args.next().cloned(),
            other if other.starts_with("http://") => url = Some(other.to_owned()),
            other => panic!("unexpected curl argument {other}"),
        }
    }
    let url = url.expect("a URL");
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, target) = rest.split_at(rest.find('/').unwrap());
    let method = method.unwrap_or_else(|| if data.is_some() { "POST" } else { "GET" }.to_owned());
    let mut request = format!("{method} {target} HTTP/1.1\r\nHost: {authority}\r\n");
    request.push_str("Connection: close\r\nAccept: */*\r\n");
    for header in &headers {
        request.push_str(&format!("{header}\r\n"));
    }
    let body = data.unwrap_or_default();
    if !body.is_empty() {
        // Like curl, `-d` without a Content-Type sends a form.
        if !headers.iter().any(|h| h.to_ascii_lowercase().starts_with("content-type:")) {
            request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(&body);

    let mut stream = TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let reply = Reply { status, headers, body: raw[split + 4..].to_vec() };
    assert_ne!(reply.header("transfer-encoding"), Some("chunked"), "a chunked body is not parsed");
    reply
}

#[test]
fn the_printed_curl_commands_get_the_announced_statuses() {
    let server = Server::start(&[]);
    let banner = server.banner();
    let text = banner.join("\n");
    assert!(text.contains("DEVELOPMENT MODE"), "{text}");
    assert!(text.contains("Never expose it"), "{text}");
    assert!(text.contains("THE TOKENS ARE FOR THIS MACHINE ONLY"), "{text}");
    assert!(text.contains("listens on loopback only"), "{text}");
    assert!(banner.last().unwrap().starts_with("Listening on http://127.0.0.1:"), "{text}");
    let base = banner.last().unwrap().split(' ').nth(2).unwrap().to_owned();
    // The metadata URL is printed with the tokens.
    let metadata = format!("{base}/.well-known/oauth-protected-resource");
    assert!(banner.contains(&metadata), "{text}");

    let mut vars = HashMap::new();
    for line in banner.iter().filter(|line| line.starts_with("export ")) {
        let words = shell_words(line, &vars);
        let (name, value) = words[1].split_once('=').unwrap();
        vars.insert(name.to_owned(), value.to_owned());
    }
    let mut names: Vec<_> = vars.keys().cloned().collect();
    names.sort();
    assert_eq!(names, ["ADMIN", "ALICE", "ALICE_MFA", "ALICE_MFA_OLD", "BOB", "CAROL"]);

    let mut seen = Vec::new();
    let mut not_found_bodies = Vec::new();
    for pair in banner.windows(2) {
        let (comment, command) = (&pair[0], &pair[1]);
        if !command.starts_with("curl ") {
            continue;
        }
        let expected: u16 = comment
            .strip_prefix("# ")
            .and_then(|rest| rest.get(..3))
            .and_then(|status| status.parse().ok())
            .unwrap_or_else(|| panic!("no status announced above {command}"));
        let reply = curl(&shell_words(command, &vars));
        assert_eq!(reply.status, expected, "{comment}\n{command}\n{reply:?}");
        seen.push(expected);

        match expected {
            200 | 201 => assert_eq!(reply.header("content-type"), Some("application/json")),
            204 => assert!(reply.body.is_empty()),
            _ => {
                assert_eq!(reply.header("content-type"), Some("application/problem+json"));
                assert_eq!(reply.json()["status"], expected);
            }
        }
        let challenge = reply.header("www-authenticate");
        match expected {
            401 => {
                let challenge = challenge.unwrap();
                assert!(challenge.starts_with(r#"Bearer realm="documents""#), "{challenge}");
                let named = format!(r#"resource_metadata="{metadata}""#);
                assert!(challenge.ends_with(&named), "{challenge}");
                // Step-up authentication (RFC 9470): what sign-in to ask for.
                let step_up = r#"error="insufficient_user_authentication", error_description="The user must sign in again, more strongly or more recently", acr_values="urn:documents:mfa", max_age="600", resource_metadata="#;
                assert_eq!(
                    challenge.contains(step_up),
                    comment.contains("insufficient_user_authentication")
                        || command.contains("$ALICE_MFA_OLD"),
                    "{challenge}"
                );
            }
            // Resource access: the token is fine, so no challenge.
            403 if comment.contains("no WWW-Authenticate") => {
                assert_eq!(challenge, None, "{command}");
            }
            403 => {
                let challenge = challenge.unwrap();
                assert!(challenge.contains(r#"error="insufficient_scope""#), "{challenge}");
                // Roles and policies are nothing a client can ask the authorization server for.
                let scoped = !comment.contains("no scope=");
                assert_eq!(challenge.contains(r#" scope=""#), scoped, "{challenge}");
            }
            400 if comment.contains("invalid_request") => {
                assert!(challenge.unwrap().contains(r#"error="invalid_request""#), "{command}");
            }
            _ => assert_eq!(challenge, None, "{command}"),
        }
        if expected == 201 {
            let id = reply.json()["id"].as_i64().unwrap();
            assert_eq!(reply.header("location"), Some(format!("/documents/{id}").as_str()));
        }
        if expected == 400 && challenge.is_none() {
            assert!(reply.json()["invalid-params"].as_array().is_some_and(|p| !p.is_empty()));
        }
        if command.contains("/documents?limit=1") {
            assert_eq!(reply.json().as_array().map(Vec::len), Some(1), "{command}");
            let link = reply.header("link").unwrap();
            let cursor = link
                .strip_prefix("</documents?limit=1&cursor=")
                .and_then(|rest| rest.strip_suffix(r#">; rel="next""#))
                .unwrap_or_else(|| panic!("{link}"));
            assert!(cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        } else {
            assert_eq!(reply.header("link"), None, "{command}");
        }
        if command.contains("/.well-known/oauth-protected-resource") {
            let document = reply.json();
            assert_eq!(document["resource"], base.as_str(), "{document}");
            assert_eq!(
                document["authorization_servers"],
                serde_json::json!(["https://documents.development.invalid"])
            );
            assert_eq!(document["scopes_supported"].as_array().map(Vec::len), Some(5));
        }
        if comment.contains("carol's own documents") {
            assert_eq!(reply.json(), serde_json::json!([]));
        }
        if command.contains("/whoami") && expected == 200 {
            let subject = &reply.json()["subject"];
            assert_eq!(subject.is_null(), !command.contains("$ALICE"), "{command}");
        }
        if command.contains("/documents/export") && expected == 200 {
            let all = reply.json();
            let documents = all.as_array().unwrap();
            assert!(!documents.is_empty(), "{all}");
            assert!(documents.iter().all(|document| document["owner"] == "alice"), "{all}");
        }
        if command.contains("/admin/documents") && expected == 200 {
            let all = reply.json();
            let first = &all.as_array().unwrap()[0];
            assert_eq!(first.as_object().unwrap().len(), 3, "{all}");
            assert!(first["id"].is_i64() && first["owner"] == "alice", "{all}");
        }
        if expected == 404 {
            not_found_bodies.push(reply.body);
        }
    }
    // Every status of the walk-through is shown.
    for status in [200, 201, 204, 400, 401, 403, 404, 415] {
        assert!(seen.contains(&status), "no printed command shows {status}: {seen:?}");
    }
    // Every 404 (someone else's document, one never shared, one no longer shared, an absent
    // one, a deleted one) is the same bytes.
    assert_eq!(not_found_bodies.len(), 5);
    assert!(not_found_bodies.windows(2).all(|pair| pair[0] == pair[1]));

    let (success, logs) = server.terminate();
    assert!(success, "the server exits cleanly on SIGTERM\n{logs}");
    // One access-log line per request, with the status and the denial reason.
    let access: Vec<_> =
        logs.lines().filter(|line| line.contains("portcullis::access_log")).collect();
    assert_eq!(access.len(), seen.len(), "{logs}");
    assert!(
        access
            .iter()
            .any(|line| line.contains("status=403") && line.contains("insufficient_scope")),
        "{logs}"
    );
    assert!(access.iter().any(|line| line.contains("status=404") && line.contains("not_owner")));
    // The route's template, never the path with its ids.
    assert!(access.iter().any(|line| line.contains(r#"route="/documents/{id}""#)), "{logs}");
    assert!(access.iter().all(|line| !line.contains("path=")), "{logs}");
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(!logs.contains(&vars["ALICE"]), "a token was logged");
}

#[test]
fn a_bad_setting_stops_the_start_with_its_name() {
    let server = Server::start(&[("PORTCULLIS_DISCLOSURE", "verbose")]);
    let banner = server.banner();
    assert!(!banner.iter().any(|line| line.starts_with("Listening")), "{banner:?}");
    let mut server = server;
    let status = server.child.wait().unwrap();
    assert!(!status.success());
    let logs = server.stderr.take().unwrap().join().unwrap();
    assert!(logs.contains("PORTCULLIS_DISCLOSURE"), "{logs}");
}

/// Starts the binary with `vars`, which must stop the start: its stdout (nothing of development
/// mode may be in it) and its stderr.
fn refused(vars: &[(&str, &str)]) -> (String, String) {
    let mut server = Server::start(vars);
    let status = server.child.wait().unwrap();
    assert!(!status.success(), "{status:?}");
    let logs = server.stderr.take().unwrap().join().unwrap();
    let stdout = server.banner().join("\n");
    assert!(!stdout.contains("DEVELOPMENT"), "{stdout}");
    assert!(!stdout.contains("export "), "{stdout}");
    assert!(!stdout.contains("Listening"), "{stdout}");
    (stdout, logs)
}

#[test]
fn a_misspelt_setting_stops_the_start_naming_it_and_the_known_ones() {
    // Without the check, the typo leaves no PORTCULLIS_ISSUER: development mode, and tokens.
    let (_, logs) = refused(&[("PORTCULLIS_ISUER", "https://login.example.com/")]);
    let known = portcullis::config::env::ALL.join(", ");
    let expected = format!(
        "documents: PORTCULLIS_ISUER: unknown setting; the known PORTCULLIS_* settings are {known}\n"
    );
    assert!(logs.ends_with(&expected), "{logs}");
    assert!(known.contains("PORTCULLIS_ISSUER, PORTCULLIS_AUDIENCE, PORTCULLIS_JWKS_URL"));

    // Environment names are case-sensitive: a lower-case spelling is a typo too.
    let (_, logs) = refused(&[("portcullis_issuer", "https://login.example.com/")]);
    assert!(logs.contains("documents: portcullis_issuer: unknown setting"), "{logs}");

    let (_, logs) = refused(&[("DOCUMENTS_DATABASE", "documents.sqlite")]);
    let expected = "documents: DOCUMENTS_DATABASE: unknown setting; the known DOCUMENTS_* \
                    settings are DOCUMENTS_ADDR, DOCUMENTS_DB\n";
    assert!(logs.ends_with(expected), "{logs}");
}

#[test]
fn development_mode_refuses_an_address_that_is_not_loopback() {
    let (_, logs) = refused(&[("DOCUMENTS_ADDR", "0.0.0.0:0")]);
    let expected = "documents: DOCUMENTS_ADDR (0.0.0.0:0): development mode (no PORTCULLIS_* \
                    variable is set) listens on a loopback address only, since the tokens it \
                    prints are for this machine only; listen on 127.0.0.1 or [::1], or \
                    configure an identity provider (PORTCULLIS_ISSUER, PORTCULLIS_AUDIENCE, \
                    ...; see README.md)\n";
    assert!(logs.ends_with(expected), "{logs}");
}

#[test]
fn any_portcullis_setting_turns_development_mode_off() {
    // A realm alone is a configuration without an issuer, not development mode.
    let (_, logs) = refused(&[("PORTCULLIS_REALM", "documents")]);
    assert!(logs.contains("documents: configuration: no issuer is configured"), "{logs}");
}

#[test]
fn a_configured_key_source_turns_development_mode_off() {
    // Nothing listens on port 9 of the loopback; whether the key set is fetched at start or on
    // the first request, no development key or token may appear.
    let server = Server::start(&[
        ("PORTCULLIS_JWKS_URL", "http://127.0.0.1:9/jwks.json"),
        ("PORTCULLIS_AUDIENCE", "documents"),
    ]);
    let text = server.banner().join("\n");
    assert!(!text.contains("DEVELOPMENT"), "{text}");
    assert!(!text.contains("export "), "{text}");
}

/// A provider on 127.0.0.1 that answers every request with `document(base URL)` as JSON.
fn serve_json(document: impl Fn(&str) -> String + Send + 'static) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let body = document(&base);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    base
}

#[test]
fn a_discovery_document_naming_another_issuer_stops_the_start() {
    // The provider spells its issuer without the trailing slash the configuration has.
    let base = serve_json(|base| {
        serde_json::json!({"issuer": base, "jwks_uri": format!("{base}/jwks")}).to_string()
    });
    let configured = format!("{base}/");
    let mut server = Server::start(&[
        ("PORTCULLIS_ISSUER", configured.as_str()),
        ("PORTCULLIS_AUDIENCE", "documents"),
    ]);
    let status = server.child.wait().unwrap();
    assert!(!status.success(), "{status:?}");
    let logs = server.stderr.take().unwrap().join().unwrap();
    assert!(logs.contains("documents: configuration: PORTCULLIS_ISSUER: "), "{logs}");
    assert!(logs.contains(&format!("{configured:?}")), "{logs}");
    assert!(logs.contains(&format!("names the issuer {base:?}")), "{logs}");
    assert!(logs.contains("they differ only by a trailing slash"), "{logs}");
    let banner = server.banner();
    assert!(!banner.iter().any(|line| line.starts_with("Listening")), "{banner:?}");
}

#[test]
fn an_unreachable_provider_at_start_is_no_error() {
    // Nothing listens on port 9 of the loopback: the server starts and keeps trying.
    let server = Server::start(&[
        ("PORTCULLIS_ISSUER", "http://127.0.0.1:9"),
        ("PORTCULLIS_AUDIENCE", "documents"),
    ]);
    let banner = server.banner();
    assert!(banner.iter().any(|line| line.starts_with("Listening")), "{banner:?}");
    let (_, logs) = server.terminate();
    assert!(logs.contains("could not fetch the key set"), "{logs}");
}

/// The test issuer (`portcullis`'s `testing` feature) is for the tests: the binary's own
/// dependencies do not enable it, so what ships cannot mint test tokens. Development mode mints
/// with `portcullis::development`, for a key generated in memory at start.
#[test]
fn the_binary_does_not_enable_the_testing_feature() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let normal = manifest.split("\n[dependencies]\n").nth(1).unwrap();
    let normal = normal.split("\n[").next().unwrap();
    let portcullis = normal.lines().find(|line| line.starts_with("portcullis")).unwrap();
    assert!(!portcullis.contains("testing"), "{portcullis}");
    let dev = manifest.split("\n[dev-dependencies]\n").nth(1).unwrap();
    assert!(dev.lines().any(|line| line.starts_with("portcullis") && line.contains("testing")));
}
