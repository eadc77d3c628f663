//! The example binary (development mode, on 127.0.0.1) driven by the official MCP TypeScript
//! SDK's clients, run by the machine's Node from `tests/mcp-client` (`npm ci` there installs
//! them from the committed lock file; `.ci/run` does it): `@modelcontextprotocol/client` 2.4.0
//! pinned to the 2026-07-28 protocol, which sends `Mcp-Method` and `Mcp-Name` (so `usage` is
//! refused from the headers), and `@modelcontextprotocol/sdk` 1.32.2, which sends neither (so
//! the same decision is made from the body). Each lists the tools (filtered by the guard), calls
//! `add`, and calls `usage`: with `mcp:tools` only, the 403 `insufficient_scope` whose `scope=`
//! the client reports (`InsufficientScopeError` for the 2.x client); with `mcp:admin`, the
//! answer. The tokens are the development issuer's that the binary prints, not an identity
//! provider's.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a panic is a failed test")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const CLIENT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/mcp-client");

/// The example binary in development mode, killed when dropped.
struct Example {
    child: Child,
    endpoint: String,
    user_token: String,
    admin_token: String,
}

impl Example {
    fn start() -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mcp"));
        // Development mode: no PORTCULLIS_* variable at all.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name.starts_with("PORTCULLIS_") || name.starts_with("MCP_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .env("MCP_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the example binary starts");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (mut endpoint, mut user_token, mut admin_token) = (None, None, None);
        let token = |line: &str| line.split('\'').nth(1).map(str::to_owned);
        for line in stdout.lines() {
            let line = line.unwrap();
            if line.starts_with("export USER_TOKEN=") {
                user_token = token(&line);
            } else if line.starts_with("export ADMIN_TOKEN=") {
                admin_token = token(&line);
            } else if let Some(rest) = line.strip_prefix("MCP endpoint: ") {
                endpoint = rest.split(' ').next().map(str::to_owned);
                break;
            }
        }
        Self {
            child,
            endpoint: endpoint.expect("the endpoint is printed"),
            user_token: user_token.expect("the user token is printed"),
            admin_token: admin_token.expect("the admin token is printed"),
        }
    }

    /// What the client of `sdk` reports after its session with `token`.
    fn drive(&self, sdk: &str, token: &str) -> Value {
        let installed = Path::new(CLIENT_DIR).join("node_modules/@modelcontextprotocol/client");
        assert!(installed.exists(), "run `npm ci` in tests/mcp-client (.ci/run does)");
        let output = Command::new("node")
            .arg("client.mjs")
            .args([sdk, &self.endpoint, token])
            .current_dir(CLIENT_DIR)
            .output()
            .expect("node runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(report.get("failed").is_none(), "{report:#}");
        report
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The exchanges of `report` that are `tools/call`s, as the client sent them.
fn calls(report: &Value) -> Vec<&Value> {
    report["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|exchange| exchange["method"] == "POST" && exchange["status"] != 202)
        .collect()
}

#[test]
fn the_typescript_sdk_clients_list_call_and_get_the_step_up_challenge() {
    let example = Example::start();
    let metadata = format!(
        "resource_metadata=\"{}\"",
        example.endpoint.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    );
    for sdk in ["client", "sdk"] {
        let user = example.drive(sdk, &example.user_token);
        assert_eq!(user["tools"], serde_json::json!(["add", "whoami"]), "{sdk}: {user:#}");
        assert_eq!(user["add"], "42", "{sdk}");
        let refused = calls(&user).into_iter().last().unwrap().clone();
        assert_eq!(refused["status"], 403, "{sdk}: {user:#}");
        let challenge = refused["wwwAuthenticate"].as_str().unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"mcp\", error=\"insufficient_scope\""),
            "{challenge}"
        );
        assert!(
            challenge.ends_with(&format!("scope=\"mcp:tools mcp:admin\", {metadata}")),
            "{challenge}"
        );
        assert!(user["usage"].get("answered").is_none(), "{sdk}: {user:#}");
        let sends_headers = sdk == "client";
        if sends_headers {
            assert_eq!(user["protocolVersion"], "2026-07-28");
            assert_eq!(user["usage"]["error"], "InsufficientScopeError");
            assert_eq!(
                user["usage"]["message"],
                "Insufficient scope: required \"mcp:tools mcp:admin\""
            );
            assert_eq!(refused["mcpMethod"], "tools/call");
            assert_eq!(refused["mcpName"], "usage");
        } else {
            assert_ne!(user["protocolVersion"], "2026-07-28");
            assert!(calls(&user).iter().all(|exchange| exchange["mcpMethod"].is_null()));
            assert_eq!(user["usage"]["error"], "StreamableHTTPError");
            assert!(user["usage"]["message"].as_str().unwrap().contains("403"), "{user:#}");
        }

        let admin = example.drive(sdk, &example.admin_token);
        assert_eq!(
            admin["tools"],
            serde_json::json!(["add", "usage", "whoami"]),
            "{sdk}: {admin:#}"
        );
        let answered = admin["usage"]["answered"]["content"][0]["text"].as_str().unwrap();
        let usage: Value = serde_json::from_str(answered).unwrap();
        assert!(usage["calls"].as_u64().unwrap() >= 1, "{admin:#}");
    }
}
