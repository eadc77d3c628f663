//! AuthZEN 1.0 on the wire: the evaluation and evaluations requests, their answers, the
//! discovery document, and the HTTP calls (the runtime's one HTTP client, bounded in time and
//! size, no redirect).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::engine::{EngineFailure, Question};
use crate::keys::discovered_url;

/// The body of `access/v1/evaluation` (one action) or `access/v1/evaluations` (see, then act):
/// the subject and the resource once, the actions apart.
#[derive(Debug, Serialize)]
pub(super) struct Request<'a> {
    subject: Subject<'a>,
    resource: Resource<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<ActionName<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evaluations: Option<[Evaluation<'a>; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Options>,
}

#[derive(Debug, Serialize)]
struct Subject<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: String,
    properties: Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct Resource<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    properties: Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct ActionName<'a> {
    name: &'a str,
}

#[derive(Debug, Serialize)]
struct Evaluation<'a> {
    action: ActionName<'a>,
}

#[derive(Debug, Serialize)]
struct Options {
    /// Every evaluation answered, in order: a short-circuited batch would leave the second
    /// question unanswered.
    evaluations_semantic: &'static str,
}

/// What the subject tells a decision point: the principal id, and as properties the issuer,
/// the scopes, the roles and the claims the application chose.
pub(super) struct SubjectShape<'a> {
    pub(super) kind: &'a str,
    pub(super) claims: &'a [String],
}

impl<'a> Request<'a> {
    /// The request for `question`: one evaluation when its two actions are one, else a batch.
    pub(super) fn new(question: &'a Question<'a>, subject: &SubjectShape<'a>) -> Self {
        let principal = question.principal;
        let mut properties = Map::new();
        if let Some(issuer) = principal.issuer() {
            properties.insert("iss".into(), issuer.into());
        }
        properties.insert("scopes".into(), principal.scopes().iter().collect::<Vec<_>>().into());
        properties.insert("roles".into(), principal.roles().iter().collect::<Vec<_>>().into());
        for claim in subject.claims {
            if let Some(value) = principal.claim_at(claim) {
                properties.insert(claim.clone(), value.clone());
            }
        }
        let resource = question.resource;
        let mut resource_properties = resource.facts.attributes.clone();
        if let Some(owner) = &resource.facts.owner {
            resource_properties.insert("owner".into(), owner.clone().into());
        }
        let (action, evaluations, options) = if question.is_single() {
            (Some(ActionName { name: question.action }), None, None)
        } else {
            let evaluations = [
                Evaluation { action: ActionName { name: question.see_action } },
                Evaluation { action: ActionName { name: question.action } },
            ];
            (None, Some(evaluations), Some(Options { evaluations_semantic: "execute_all" }))
        };
        Self {
            subject: Subject { kind: subject.kind, id: principal.id().to_string(), properties },
            resource: Resource {
                kind: resource.kind,
                id: &resource.id,
                properties: resource_properties,
            },
            action,
            evaluations,
            options,
        }
    }

    pub(super) fn is_batch(&self) -> bool {
        self.evaluations.is_some()
    }
}

/// One decision: `decision` must be a boolean; anything in `context` (a reason, an evaluation
/// error) leaves a `false` a deny and a `true` an allow.
#[derive(Debug, Deserialize)]
struct Answer {
    decision: bool,
}

#[derive(Debug, Deserialize)]
struct Answers {
    evaluations: Vec<Answer>,
}

/// The two answers (may see, may act) in `body`, the answer to a request that was a batch or
/// not; anything else (not JSON, no boolean decision, a batch with a decision missing or one
/// too many) is no answer.
pub(super) fn read_answers(body: &[u8], batch: bool) -> Result<(bool, bool), EngineFailure> {
    if !batch {
        let answer: Answer = serde_json::from_slice(body)
            .map_err(|_| EngineFailure::new("the evaluation answer is not an AuthZEN decision"))?;
        return Ok((answer.decision, answer.decision));
    }
    let answers: Answers = serde_json::from_slice(body)
        .map_err(|_| EngineFailure::new("the evaluations answer is not a list of decisions"))?;
    match answers.evaluations.as_slice() {
        [see, act] => Ok((see.decision, act.decision)),
        other => Err(EngineFailure::new(format!(
            "the evaluations answer holds {} decisions for 2 questions",
            other.len()
        ))),
    }
}

/// The endpoints of a decision point.
#[derive(Debug, Clone)]
pub(super) struct Endpoints {
    pub(super) evaluation: Url,
    pub(super) evaluations: Url,
}

impl Endpoints {
    /// The endpoints AuthZEN 1.0 places under `base`.
    pub(super) fn under(base: &Url) -> Result<Self, url::ParseError> {
        let base = with_trailing_slash(base);
        Ok(Self {
            evaluation: base.join("access/v1/evaluation")?,
            evaluations: base.join("access/v1/evaluations")?,
        })
    }
}

fn with_trailing_slash(url: &Url) -> Url {
    let mut url = url.clone();
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// The well-known discovery document of the decision point at `base`.
pub(super) fn discovery_url(base: &Url) -> Result<Url, url::ParseError> {
    with_trailing_slash(base).join(".well-known/authzen-configuration")
}

/// What the discovery document says (AuthZEN 1.0 §9).
#[derive(Debug, Deserialize)]
struct Discovery {
    policy_decision_point: String,
    access_evaluation_endpoint: Option<String>,
    access_evaluations_endpoint: Option<String>,
}

/// The endpoints a discovery document fetched from `document` names, for the decision point
/// `base`: it must name `base` itself (a document naming another decision point is someone
/// else's) and endpoints under the same URL rules; an endpoint it leaves out is the default.
pub(super) fn read_discovery(
    base: &Url,
    document: &Url,
    body: &[u8],
    allow_http: bool,
) -> Result<Endpoints, EngineFailure> {
    let discovery: Discovery = serde_json::from_slice(body)
        .map_err(|_| EngineFailure::new("the discovery document is not AuthZEN metadata"))?;
    let named = discovery.policy_decision_point.trim_end_matches('/');
    if named != base.as_str().trim_end_matches('/') {
        return Err(EngineFailure::new(format!(
            "the discovery document names another decision point ({named})"
        )));
    }
    let defaults = Endpoints::under(base).map_err(EngineFailure::new)?;
    let endpoint = |named: Option<String>, default: Url| match named {
        None => Ok(default),
        Some(named) => discovered_url(document, &named, allow_http).map_err(EngineFailure::new),
    };
    Ok(Endpoints {
        evaluation: endpoint(discovery.access_evaluation_endpoint, defaults.evaluation)?,
        evaluations: endpoint(discovery.access_evaluations_endpoint, defaults.evaluations)?,
    })
}

/// Reads a 200 answer to `request` of at most `limit` bytes.
pub(super) async fn read(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<Vec<u8>, EngineFailure> {
    let failed = |error: reqwest::Error| {
        EngineFailure::new(if error.is_timeout() {
            "the decision point did not answer in time".to_owned()
        } else {
            format!("the call failed: {error}")
        })
    };
    let mut response = request.send().await.map_err(failed)?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(EngineFailure::new(format!(
            "the decision point answered {}",
            response.status()
        )));
    }
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(EngineFailure::new(format!("the answer is over {limit} bytes")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > limit {
            return Err(EngineFailure::new(format!("the answer is over {limit} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(read_answers(br#"{"decision":true}"#, false).unwrap(), (true, true));
        assert_eq!(
            read_answers(br#"{"decision":false,"context":{"error":"x"}}"#, false).unwrap(),
            (false, false)
        );
        let batch = br#"{"evaluations":[{"decision":true},{"decision":false}]}"#;
        assert_eq!(read_answers(batch, true).unwrap(), (true, false));
        for garbage in [
            &br#"{"decision":"true"}"#[..],
            br#"{"evaluations":[{"decision":true}]}"#,
            br#"{"evaluations":[{"decision":true},{"decision":true},{"decision":true}]}"#,
            br#"{"evaluations":[{"decision":true},{}]}"#,
            b"<html>",
        ] {
            assert!(read_answers(garbage, true).is_err(), "{:?}", String::from_utf8_lossy(garbage));
        }
        assert!(read_answers(br#"{"decision":null}"#, false).is_err());
    }

    #[test]
    fn endpoints_and_discovery() {
        let base = Url::parse("https://pdp.example/authz").unwrap();
        let endpoints = Endpoints::under(&base).unwrap();
        assert_eq!(endpoints.evaluation.as_str(), "https://pdp.example/authz/access/v1/evaluation");
        let document = discovery_url(&base).unwrap();
        assert_eq!(
            document.as_str(),
            "https://pdp.example/authz/.well-known/authzen-configuration"
        );
        let found = read_discovery(
            &base,
            &document,
            br#"{"policy_decision_point":"https://pdp.example/authz/","access_evaluations_endpoint":"https://pdp.example/v2/many"}"#,
            false,
        )
        .unwrap();
        assert_eq!(found.evaluations.as_str(), "https://pdp.example/v2/many");
        assert_eq!(found.evaluation, endpoints.evaluation);
        for refused in [
            &br#"{"policy_decision_point":"https://other.example/authz"}"#[..],
            br#"{"policy_decision_point":"https://pdp.example/authz","access_evaluation_endpoint":"http://pdp.example/x"}"#,
            b"{}",
        ] {
            assert!(read_discovery(&base, &document, refused, false).is_err());
        }
    }
}
