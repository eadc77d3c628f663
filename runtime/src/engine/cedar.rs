//! Cedar policies evaluated in process: [`CedarEngine`].
//!
//! The policies and their schema are loaded and validated (strictly) when the engine is built;
//! [`Engine::new`](super::Engine::new) then refuses an action a `#[authorize]` attribute uses
//! that the schema does not declare. Each request is two authorizations (may see, may act), or
//! one when the action is the one that makes a resource visible, over two entities:
//!
//! - the principal, of type `User` (see [`CedarEngine::principal_type`]) with the principal id
//!   as its entity id, and the attributes `id` (the principal id), `sub`, `scopes` and `roles`
//!   (sets of strings), `iss` when the token has one, and the claims chosen with
//!   [`CedarEngine::principal_claims`];
//! - the resource, of the type [`EngineResource::KIND`](super::EngineResource::KIND) names,
//!   with the path's id as its entity id, and as attributes `owner` (when the application gives
//!   one) and the application's own (JSON arrays are sets, objects records).
//!
//! The action is `Action::"<name>"`. Any error while evaluating a policy is a deny: Cedar itself
//! skips a policy that fails, so a `forbid` whose condition errors would otherwise let a
//! `permit` through.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, Schema, ValidationMode, Validator,
};
use serde_json::{Map, Value, json};

use super::{Decision, DecisionEngine, EngineFailure, EngineFuture, Question};

/// Why a Cedar engine cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CedarError {
    /// The policies do not parse.
    #[error("the Cedar policies do not parse: {0}")]
    Policies(String),
    /// The schema does not parse.
    #[error("the Cedar schema does not parse: {0}")]
    Schema(String),
    /// The policies do not validate against the schema.
    #[error("the Cedar policies do not validate against the schema: {0}")]
    Validation(String),
    /// A type name is not a Cedar type name.
    #[error("\"{0}\" is not a Cedar entity type name")]
    TypeName(String),
}

/// Cedar policies and their schema, evaluated in process; cheap to clone.
///
/// (A crate of its own: [`Engine::new`](super::Engine::new) checks every action the program's
/// `#[authorize]` attributes use, and this example has none.)
///
/// ```standalone_crate
/// use portcullis::engine::{Engine, cedar::CedarEngine};
///
/// let schema = r#"
///     entity User { id: String, sub: String, scopes: Set<String>, roles: Set<String> };
///     entity document { owner: String, shared_with: Set<String> };
///     action "read", "write" appliesTo { principal: User, resource: document };
/// "#;
/// let policies = r#"
///     permit (principal, action, resource) when { resource.owner == principal.id };
///     permit (principal, action == Action::"read", resource)
///         when { resource.shared_with.contains(principal.id) };
/// "#;
/// let engine = Engine::new(CedarEngine::new(policies, schema)?)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CedarEngine {
    inner: Arc<Inner>,
}

struct Inner {
    policies: PolicySet,
    schema: Schema,
    authorizer: Authorizer,
    principal_type: EntityTypeName,
    principal_claims: Vec<String>,
}

impl fmt::Debug for CedarEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CedarEngine")
            .field("policies", &self.inner.policies.policies().count())
            .field("principal_type", &self.inner.principal_type.to_string())
            .finish_non_exhaustive()
    }
}

impl CedarEngine {
    /// The engine of `policies` (Cedar's policy syntax) under `schema` (Cedar's schema syntax),
    /// validated strictly.
    pub fn new(policies: &str, schema: &str) -> Result<Self, CedarError> {
        let policies = PolicySet::from_str(policies)
            .map_err(|error| CedarError::Policies(error.to_string()))?;
        let (schema, _warnings) = Schema::from_cedarschema_str(schema)
            .map_err(|error| CedarError::Schema(error.to_string()))?;
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result.validation_errors().map(ToString::to_string).collect();
            return Err(CedarError::Validation(errors.join("; ")));
        }
        let principal_type = type_name("User")?;
        Ok(Self {
            inner: Arc::new(Inner {
                policies,
                schema,
                authorizer: Authorizer::new(),
                principal_type,
                principal_claims: Vec::new(),
            }),
        })
    }

    /// The principal's entity type (default `User`).
    pub fn principal_type(self, name: &str) -> Result<Self, CedarError> {
        let principal_type = type_name(name)?;
        Ok(self.with(|inner| inner.principal_type = principal_type))
    }

    /// Claims of the token (dotted paths) given to the principal as attributes of the same
    /// name, beside `id`, `sub`, `iss`, `scopes` and `roles`.
    #[must_use]
    pub fn principal_claims<I: IntoIterator<Item = S>, S: Into<String>>(self, claims: I) -> Self {
        let claims: Vec<String> = claims.into_iter().map(Into::into).collect();
        self.with(|inner| inner.principal_claims = claims)
    }

    fn with(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(shared) => Inner {
                policies: shared.policies.clone(),
                schema: shared.schema.clone(),
                authorizer: Authorizer::new(),
                principal_type: shared.principal_type.clone(),
                principal_claims: shared.principal_claims.clone(),
            },
        };
        change(&mut inner);
        Self { inner: Arc::new(inner) }
    }

    /// Both answers for `question`, each `false` on any evaluation error.
    fn answers(&self, question: &Question<'_>) -> Result<(bool, bool), EngineFailure> {
        let inner = &*self.inner;
        let principal_id = question.principal.id().to_string();
        let principal = EntityUid::from_type_name_and_id(
            inner.principal_type.clone(),
            EntityId::new(&principal_id),
        );
        let resource_type = type_name(question.resource.kind).map_err(EngineFailure::new)?;
        let resource = EntityUid::from_type_name_and_id(
            resource_type.clone(),
            EntityId::new(&question.resource.id),
        );
        let entities = self.entities(question, &principal_id, &resource_type)?;
        let see = self.allows(&principal, question.see_action, &resource, &entities);
        let act = if question.is_single() {
            see
        } else {
            self.allows(&principal, question.action, &resource, &entities)
        };
        Ok((see, act))
    }

    /// The principal's and the resource's entities.
    fn entities(
        &self,
        question: &Question<'_>,
        principal_id: &str,
        resource_type: &EntityTypeName,
    ) -> Result<Entities, EngineFailure> {
        let inner = &*self.inner;
        let principal = question.principal;
        let mut attrs = Map::new();
        attrs.insert("id".into(), principal_id.into());
        attrs.insert("sub".into(), principal.subject().into());
        if let Some(issuer) = principal.issuer() {
            attrs.insert("iss".into(), issuer.into());
        }
        attrs.insert("scopes".into(), principal.scopes().iter().collect::<Vec<_>>().into());
        attrs.insert("roles".into(), principal.roles().iter().collect::<Vec<_>>().into());
        for claim in &inner.principal_claims {
            if let Some(value) = principal.claim_at(claim) {
                attrs.insert(claim.clone(), value.clone());
            }
        }
        let facts = &question.resource.facts;
        let mut resource_attrs = facts.attributes.clone();
        if let Some(owner) = &facts.owner {
            resource_attrs.insert("owner".into(), owner.clone().into());
        }
        let value = json!([
            {
                "uid": {"type": inner.principal_type.to_string(), "id": principal_id},
                "attrs": Value::Object(attrs),
                "parents": [],
            },
            {
                "uid": {"type": resource_type.to_string(), "id": question.resource.id},
                "attrs": Value::Object(resource_attrs),
                "parents": [],
            },
        ]);
        // Checked against the schema: an attribute of the wrong type is refused here rather
        // than making every policy that reads it fail.
        Entities::from_json_value(value, Some(&inner.schema)).map_err(|error| {
            EngineFailure::new(format!("the entities do not match the Cedar schema: {error}"))
        })
    }

    /// Whether the policies allow `action`, with no evaluation error.
    fn allows(
        &self,
        principal: &EntityUid,
        action: &str,
        resource: &EntityUid,
        entities: &Entities,
    ) -> bool {
        let inner = &*self.inner;
        let Ok(action_type) = type_name("Action") else { return false };
        let action = EntityUid::from_type_name_and_id(action_type, EntityId::new(action));
        let request = match Request::new(
            principal.clone(),
            action,
            resource.clone(),
            Context::empty(),
            Some(&inner.schema),
        ) {
            Ok(request) => request,
            Err(error) => {
                tracing::warn!(target: "portcullis::engine", %error, "the Cedar request does not match the schema: denied");
                return false;
            }
        };
        let response = inner.authorizer.is_authorized(&request, &inner.policies, entities);
        let mut errors = response.diagnostics().errors().peekable();
        if errors.peek().is_some() {
            for error in errors {
                tracing::warn!(target: "portcullis::engine", %error, "a Cedar policy failed to evaluate: denied");
            }
            return false;
        }
        response.decision() == CedarDecision::Allow
    }
}

impl DecisionEngine for CedarEngine {
    fn decide<'a>(&'a self, question: &'a Question<'a>) -> EngineFuture<'a> {
        let decision = match self.answers(question) {
            Ok((see, act)) => Ok(Decision::from_answers(see, act)),
            // Entities that do not fit the schema are the application's mistake, not the
            // engine's absence: a deny, logged.
            Err(failure) => {
                tracing::warn!(target: "portcullis::engine", error = %failure, "denied");
                Ok(Decision::NotVisible)
            }
        };
        Box::pin(std::future::ready(decision))
    }

    fn knows_action(&self, name: &str) -> Option<bool> {
        Some(self.inner.schema.actions().any(|action| action.id().unescaped() == name))
    }
}

fn type_name(name: &str) -> Result<EntityTypeName, CedarError> {
    EntityTypeName::from_str(name).map_err(|_| CedarError::TypeName(name.to_owned()))
}
