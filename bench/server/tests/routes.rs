//! Every route answers as the load benchmark expects, so a benchmark never measures an error
//! path by mistake.

use axum::body::Body;
use http::{Request, StatusCode, header};
use tower::ServiceExt as _;

fn token<'a>(tokens: &'a [(String, String)], name: &str) -> &'a str {
    tokens.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str()).unwrap_or_default()
}

async fn status(app: &axum::Router, method: &str, path: &str, token: Option<&str>) -> StatusCode {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Body::from("x")).unwrap_or_default();
    app.clone().oneshot(request).await.map(|r| r.status()).unwrap_or(StatusCode::IM_A_TEAPOT)
}

#[tokio::test]
async fn every_route_answers_as_the_benchmark_expects() {
    let Ok((app, tokens)) = portcullis_bench_server::app() else { panic!("fixtures") };
    assert_eq!(status(&app, "GET", "/plain", None).await, StatusCode::OK);
    assert_eq!(status(&app, "GET", "/tokens", None).await, StatusCode::OK);
    for alg in ["rs256", "es256", "eddsa", "hs256"] {
        for guard in ["cached", "uncached", "bare"] {
            let path = format!("/{alg}/{guard}");
            let expect = |name: &str, code| (format!("{alg}{name}"), code);
            for (name, code) in [
                expect("", StatusCode::OK),
                expect("-expired", StatusCode::UNAUTHORIZED),
                expect("-wrongaud", StatusCode::UNAUTHORIZED),
                expect("-noscope", StatusCode::FORBIDDEN),
            ] {
                let got = status(&app, "GET", &path, Some(token(&tokens, &name))).await;
                assert_eq!(got, code, "{path} with {name}");
            }
            assert_eq!(status(&app, "GET", &path, None).await, StatusCode::UNAUTHORIZED, "{path}");
            // A token of another algorithm's key is refused.
            let other = if alg == "es256" { "eddsa" } else { "es256" };
            let got = status(&app, "GET", &path, Some(token(&tokens, other))).await;
            assert_eq!(got, StatusCode::UNAUTHORIZED, "{path} with {other}");
        }
    }
    assert_eq!(status(&app, "POST", "/upload", None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        status(&app, "POST", "/upload", Some(token(&tokens, "es256"))).await,
        StatusCode::OK
    );
}

/// Status, `Content-Type`, `WWW-Authenticate` and body of a response.
async fn answer(
    app: &axum::Router,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>, Option<String>, Vec<u8>) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Body::empty()).unwrap_or_default();
    let Ok(response) = app.clone().oneshot(request).await;
    let value =
        |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (content_type, challenge) = (value(header::CONTENT_TYPE), value(header::WWW_AUTHENTICATE));
    let status = response.status();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .map(|collected| collected.to_bytes().to_vec())
        .unwrap_or_default();
    (status, content_type, challenge, body)
}

/// The hand-written check refuses with the very bytes portcullis sends, so that the load
/// benchmark's refusal rows compare the guards and not the size of their answers.
#[tokio::test]
async fn both_guards_refuse_with_the_same_bytes() {
    let Ok((app, tokens)) = portcullis_bench_server::app() else { panic!("fixtures") };
    for alg in ["rs256", "es256", "eddsa", "hs256"] {
        for token_name in [None, Some("-expired"), Some("-wrongaud"), Some("-noscope")] {
            let token = token_name.map(|name| token(&tokens, &format!("{alg}{name}")).to_owned());
            let portcullis = answer(&app, &format!("/{alg}/cached"), token.as_deref()).await;
            let bare = answer(&app, &format!("/{alg}/bare"), token.as_deref()).await;
            assert_ne!(portcullis.0, StatusCode::OK, "{alg} {token_name:?}");
            assert_eq!(
                portcullis.1.as_deref(),
                Some("application/problem+json"),
                "{alg} {token_name:?}"
            );
            assert_eq!(portcullis, bare, "{alg} {token_name:?}");
        }
    }
}
