//! OpenAPI from the guards, with [aide] (feature `openapi`).
//!
//! The guard the attribute macros put first in a handler implements aide's
//! [`OperationInput`], so a guarded handler routed with aide's `ApiRouter` gets, without a word
//! repeated:
//!
//! - its **security requirement**: the [`BEARER`] scheme with the scopes of its
//!   `#[requires_scope]`: one requirement with every scope for a plain list, one requirement per
//!   alternative for `any(..)`; `#[authenticated(optional)]` adds the empty requirement (no
//!   credentials). Roles, claim checks and policies have no OAuth scope: they show as the 403;
//! - its **refusals**, as `application/problem+json` responses with the [`ProblemDetails`]
//!   schema: 400 (two credentials, a malformed request), 401 with its `WWW-Authenticate`
//!   challenge (and, with `#[requires_authentication]`, the `acr`/`max_age` it requires, in the
//!   401 and in the operation's description), 403 when it requires anything of the caller, 404 where `#[owner_only]` applies
//!   (with the resource's id as a path parameter).
//!
//! [`extract::Json`](crate::extract::Json), [`Query`],
//! [`Path`] and [`Valid`](crate::extract::Valid) describe their body or
//! parameters from the type's `schemars::JsonSchema`, and their refusals (400, and 413 and 415
//! for a body). [`describe`] declares the [`BEARER`] scheme in the document.
//!
//! ```
//! use aide::openapi::OpenApi;
//! use portcullis::openapi::BEARER;
//!
//! let mut api = OpenApi::default();
//! let _ = portcullis::openapi::describe(aide::transform::TransformOpenApi::new(&mut api));
//! assert!(api.components.unwrap().security_schemes.contains_key(BEARER));
//! ```

use std::borrow::Cow;

use aide::generate::GenContext;
use aide::openapi::{
    Header, MediaType, Operation, Parameter, ParameterData, ParameterSchemaOrContent, PathStyle,
    ReferenceOr, RequestBody, Response, SchemaObject, SecurityRequirement, SecurityScheme,
    StatusCode,
};
use aide::operation::{OperationInput, OperationOutput, ParamLocation, parameters_from_schema};
use aide::transform::TransformOpenApi;
use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::engine::{EngineCheck, EngineResource};
use crate::extract::{Json, Path, Query};
use crate::guard::{Guard, Guarded, NoOwnership, Requirements};
use crate::ownership::{OwnedBy, OwnedResource};
use crate::policy::{AccessPolicy, Policies};
use crate::respond::PROBLEM_JSON;
use crate::scope::ScopeRule;
use crate::step_up::AuthenticationRequirement;
use crate::{InternalError, Owned, Principal, Problem};

/// The name of the HTTP bearer security scheme every guarded operation requires.
pub const BEARER: &str = "bearer";

/// The [`BEARER`] scheme: HTTP `Bearer` (RFC 6750) with a JWT.
pub fn bearer_scheme() -> SecurityScheme {
    SecurityScheme::Http {
        scheme: "bearer".into(),
        bearer_format: Some("JWT".into()),
        description: Some(
            "An OAuth 2.0 access token in the `Authorization` header (RFC 6750); the scopes an \
             operation lists are those its token must grant."
                .into(),
        ),
        extensions: IndexMap::default(),
    }
}

/// Declares the [`BEARER`] scheme in the document: pass it to aide's `finish_api_with`.
pub fn describe(api: TransformOpenApi<'_>) -> TransformOpenApi<'_> {
    api.security_scheme(BEARER, bearer_scheme())
}

/// The security requirements for a guard's scope rules, one of which a request must meet:
/// a plain list is one requirement naming every scope; each `any(..)` multiplies the
/// requirements by its alternatives. `optional` adds the empty requirement first.
pub fn security_requirements(rules: &[ScopeRule], optional: bool) -> Vec<SecurityRequirement> {
    let mut sets: Vec<Vec<&'static str>> = vec![Vec::new()];
    for rule in rules {
        sets = match rule {
            ScopeRule::All(scopes) => sets
                .into_iter()
                .map(|mut set| {
                    set.extend(scopes.iter().copied());
                    set
                })
                .collect(),
            ScopeRule::Any(alternatives) => sets
                .iter()
                .flat_map(|set| {
                    alternatives.iter().map(move |scope| {
                        let mut set = set.clone();
                        set.push(scope);
                        set
                    })
                })
                .collect(),
        };
    }
    let mut requirements: Vec<SecurityRequirement> = Vec::new();
    if optional {
        requirements.push(SecurityRequirement::new());
    }
    for set in sets {
        let mut scopes: Vec<String> = Vec::new();
        for scope in set {
            if !scopes.iter().any(|known| known == scope) {
                scopes.push(scope.to_owned());
            }
        }
        let requirement = SecurityRequirement::from_iter([(BEARER.to_owned(), scopes)]);
        if !requirements.contains(&requirement) {
            requirements.push(requirement);
        }
    }
    requirements
}

/// The schema of every refusal: an RFC 9457 problem details document, with the
/// `invalid-params` extension of the extractors. Registered as `Problem` in the components.
#[derive(Debug)]
pub struct ProblemDetails;

impl JsonSchema for ProblemDetails {
    fn schema_name() -> Cow<'static, str> {
        "Problem".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An RFC 9457 problem details document.",
            "type": "object",
            "properties": {
                "type": {"type": "string", "description": "`about:blank` unless a type is given."},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 100, "maximum": 599},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "invalid-params": {
                    "description": "What is wrong in the request: one entry per field or parameter.",
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "reason": {"type": "string"}
                        },
                        "required": ["name", "reason"]
                    }
                }
            },
            "required": ["type", "title", "status"]
        })
    }
}

/// The name of the challenge header.
const CHALLENGE: &str = "WWW-Authenticate";

/// The `WWW-Authenticate` header of a refusal: `required` when every refusal of that status
/// carries it (a 401 does; a 400 or 403 of an extractor or of resource access does not).
fn challenge_header(required: bool) -> Header {
    Header {
        description: Some("The RFC 6750 challenge: `Bearer realm=…`, `error=…`.".into()),
        style: Default::default(),
        required,
        deprecated: None,
        format: ParameterSchemaOrContent::Schema(SchemaObject {
            json_schema: json_schema!({"type": "string"}),
            example: None,
            external_docs: None,
        }),
        example: None,
        examples: IndexMap::default(),
        extensions: IndexMap::default(),
    }
}

/// A problem response for `status`, with the `WWW-Authenticate` header when `challenge`.
fn problem_response(ctx: &mut GenContext, description: &str, challenge: bool) -> Response {
    let schema = ctx.schema.subschema_for::<ProblemDetails>();
    let mut headers = IndexMap::new();
    if challenge {
        headers.insert(CHALLENGE.to_owned(), ReferenceOr::Item(challenge_header(true)));
    }
    Response {
        description: description.to_owned(),
        headers,
        content: IndexMap::from_iter([(
            PROBLEM_JSON.to_owned(),
            MediaType {
                schema: Some(SchemaObject {
                    json_schema: schema,
                    example: None,
                    external_docs: None,
                }),
                ..Default::default()
            },
        )]),
        ..Default::default()
    }
}

/// Adds the refusal `status` to `operation`; one already there gets `description` appended.
fn add_refusal(
    ctx: &mut GenContext,
    operation: &mut Operation,
    status: u16,
    description: &str,
    challenge: bool,
) {
    let responses = operation.responses.get_or_insert_with(Default::default);
    match responses.responses.get_mut(&StatusCode::Code(status)) {
        Some(ReferenceOr::Item(existing)) => {
            if !existing.description.contains(description) {
                existing.description.push(' ');
                existing.description.push_str(description);
            }
            // Refusals of one status with and without a challenge: the header is optional.
            match (challenge, existing.headers.get_mut(CHALLENGE)) {
                (false, Some(ReferenceOr::Item(header))) => header.required = false,
                (true, None) => {
                    let header = ReferenceOr::Item(challenge_header(false));
                    existing.headers.insert(CHALLENGE.to_owned(), header);
                }
                _ => {}
            }
        }
        Some(ReferenceOr::Reference { .. }) => {}
        None => {
            let response = problem_response(ctx, description, challenge);
            responses.responses.insert(StatusCode::Code(status), ReferenceOr::Item(response));
        }
    }
}

/// Adds `params`, leaving out a name the operation already has (the guard's resource id that
/// a `Path` extractor names again).
fn add_new_parameters(operation: &mut Operation, params: Vec<Parameter>) {
    for param in params {
        let name = &param.parameter_data_ref().name;
        let known = operation.parameters.iter().any(|known| match known {
            ReferenceOr::Item(known) => {
                known.parameter_data_ref().name == *name
                    && std::mem::discriminant(known) == std::mem::discriminant(&param)
            }
            ReferenceOr::Reference { .. } => false,
        });
        if !known {
            operation.parameters.push(ReferenceOr::Item(param));
        }
    }
}

/// Whether a handler's `Policies` list is empty; for the 403 of the OpenAPI description.
#[doc(hidden)]
pub trait DescribedPolicies {
    /// `true` when there is at least one policy.
    const ANY: bool;
}

impl DescribedPolicies for () {
    const ANY: bool = false;
}

impl<P: AccessPolicy, R> DescribedPolicies for Policies<P, R> {
    const ANY: bool = true;
}

/// What a handler's ownership check adds to the OpenAPI description: the resource id as a path
/// parameter, and the 404.
#[doc(hidden)]
pub trait DescribedOwnership {
    /// `true` when a resource is loaded and checked.
    const OWNED: bool;
    /// Adds the resource id named `name` as a path parameter.
    fn id_parameter(ctx: &mut GenContext, operation: &mut Operation, name: &str);
}

impl DescribedOwnership for NoOwnership {
    const OWNED: bool = false;
    fn id_parameter(_: &mut GenContext, _: &mut Operation, _: &str) {}
}

impl<T, D> DescribedOwnership for OwnedBy<T, D>
where
    T: OwnedResource,
    T::Id: JsonSchema,
{
    const OWNED: bool = true;

    fn id_parameter(ctx: &mut GenContext, operation: &mut Operation, name: &str) {
        resource_id_parameter::<T::Id>(ctx, operation, name);
    }
}

/// `#[authorize]`: the same id and 404 as `#[owner_only]`.
impl<T, A> DescribedOwnership for EngineCheck<T, A>
where
    T: EngineResource,
    T::Id: JsonSchema,
{
    const OWNED: bool = true;

    fn id_parameter(ctx: &mut GenContext, operation: &mut Operation, name: &str) {
        resource_id_parameter::<T::Id>(ctx, operation, name);
    }
}

/// Adds the resource id `Id` named `name` as a path parameter.
fn resource_id_parameter<Id: JsonSchema>(
    ctx: &mut GenContext,
    operation: &mut Operation,
    name: &str,
) {
    let schema = ctx.schema.subschema_for::<Id>();
    let param = Parameter::Path {
        parameter_data: ParameterData {
            name: name.to_owned(),
            description: Some(
                "The resource's id; one that names no resource the caller may see gets 404.".into(),
            ),
            required: true,
            format: ParameterSchemaOrContent::Schema(SchemaObject {
                json_schema: schema,
                example: None,
                external_docs: None,
            }),
            extensions: IndexMap::default(),
            deprecated: None,
            example: None,
            examples: IndexMap::default(),
            explode: None,
        },
        style: PathStyle::Simple,
    };
    add_new_parameters(operation, vec![param]);
}

/// The guard's security requirement, read from its requirements' constants, and its refusals.
impl<P, X> OperationInput for Guard<P, X>
where
    P: Requirements,
    P::Policies: DescribedPolicies,
    P::Ownership: DescribedOwnership,
{
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        operation.security = security_requirements(P::REQUIRED.scopes, P::REQUIRED.optional);
        add_refusal(
            ctx,
            operation,
            400,
            "The credentials are malformed or given twice (`invalid_request`).",
            true,
        );
        add_refusal(
            ctx,
            operation,
            401,
            if P::REQUIRED.optional {
                "The token is invalid or expired (a request without one is let through)."
            } else {
                "No token, or an invalid or expired one."
            },
            true,
        );
        if let Some(required) = &P::REQUIRED.authentication {
            let sentence = step_up_sentence(required);
            add_refusal(ctx, operation, 401, &sentence, true);
            let description = operation.description.get_or_insert_with(String::new);
            if !description.contains(&sentence) {
                if !description.is_empty() {
                    description.push_str("\n\n");
                }
                description.push_str(&sentence);
            }
        }
        let owned = <P::Ownership as DescribedOwnership>::OWNED;
        if !P::REQUIRED.scopes.is_empty() {
            add_refusal(ctx, operation, 403, "The token lacks a required scope.", true);
        }
        if !P::REQUIRED.roles.is_empty() {
            add_refusal(ctx, operation, 403, "The caller lacks a required role.", false);
        }
        if !P::REQUIRED.claims.is_empty() || <P::Policies as DescribedPolicies>::ANY {
            add_refusal(
                ctx,
                operation,
                403,
                "A policy of the operation refuses the caller.",
                false,
            );
        }
        if owned {
            add_refusal(
                ctx,
                operation,
                403,
                "The caller may see the resource but not perform this action on it.",
                false,
            );
            add_refusal(
                ctx,
                operation,
                404,
                "No such resource, or not one the caller may see (the same answer).",
                false,
            );
            P::Ownership::id_parameter(ctx, operation, P::REQUIRED.id_param.unwrap_or("id"));
        }
    }
}

/// What a step-up requirement asks of the sign-in, and how it is refused, in one sentence: for
/// the operation's description and its 401.
fn step_up_sentence(required: &AuthenticationRequirement) -> String {
    let mut sentence =
        String::from("Step-up authentication (RFC 9470): the user must have signed in");
    match required.acr_values() {
        [] => {}
        [only] => sentence.push_str(&format!(" with `acr` `{only}`")),
        several => {
            let listed: Vec<String> = several.iter().map(|acr| format!("`{acr}`")).collect();
            sentence.push_str(&format!(" with an `acr` of {}", listed.join(", ")));
        }
    }
    if let Some(max_age) = required.max_age_limit() {
        if !required.acr_values().is_empty() {
            sentence.push(',');
        }
        sentence.push_str(&format!(" within the last {} seconds (`auth_time`)", max_age.as_secs()));
    }
    sentence.push_str(&format!(
        "; otherwise 401 `insufficient_user_authentication` with `{required}`."
    ));
    sentence
}

/// The verified caller: the guard has described it already; used alone, it requires a token.
impl OperationInput for Principal {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        if operation.security.is_empty() {
            operation.security = security_requirements(&[], false);
            add_refusal(ctx, operation, 401, "No token, or an invalid or expired one.", true);
        }
    }
}

/// The resource the guard loaded: described by the guard's `#[owner_only]`.
impl<T> OperationInput for Owned<T> {}

/// `T`'s description, and an `application/json` content of `T`'s schema.
fn json_content<T: JsonSchema>(
    ctx: &mut GenContext,
) -> (Option<String>, IndexMap<String, MediaType>) {
    let json_schema = ctx.schema.subschema_for::<T>();
    let description = ctx
        .resolve_schema(&json_schema)
        .get("description")
        .and_then(|description| description.as_str())
        .map(String::from);
    let media = MediaType {
        schema: Some(SchemaObject { json_schema, example: None, external_docs: None }),
        ..Default::default()
    };
    (description, IndexMap::from_iter([("application/json".to_owned(), media)]))
}

/// A request body of media type `application/json` with `T`'s schema.
impl<T: JsonSchema> OperationInput for Json<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        let (description, content) = json_content::<T>(ctx);
        operation.request_body = Some(ReferenceOr::Item(RequestBody {
            description,
            content,
            required: true,
            extensions: IndexMap::default(),
        }));
        add_refusal(
            ctx,
            operation,
            400,
            "The body is not JSON, or not of the expected shape (`invalid-params`).",
            false,
        );
        add_refusal(ctx, operation, 413, "The body is too large.", false);
        add_refusal(ctx, operation, 415, "The body is not `application/json`.", false);
    }
}

/// A `200` response of media type `application/json` with `T`'s schema.
impl<T: JsonSchema> OperationOutput for Json<T> {
    type Inner = T;

    fn operation_response(ctx: &mut GenContext, _: &mut Operation) -> Option<Response> {
        let (description, content) = json_content::<T>(ctx);
        Some(Response {
            description: description.unwrap_or_else(|| "OK".into()),
            content,
            ..Default::default()
        })
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, Response)> {
        Self::operation_response(ctx, operation).map(|ok| (Some(200), ok)).into_iter().collect()
    }
}

/// Query parameters, one per field of `T`'s schema.
impl<T: JsonSchema> OperationInput for Query<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        let schema = ctx.schema.subschema_for::<T>();
        let params = parameters_from_schema(ctx, schema, ParamLocation::Query);
        add_new_parameters(operation, params);
        add_refusal(
            ctx,
            operation,
            400,
            "A query parameter is missing, unparsable, unknown or repeated (`invalid-params`).",
            false,
        );
    }
}

/// Path parameters, one per field of `T`'s schema.
impl<T: JsonSchema> OperationInput for Path<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        let schema = ctx.schema.subschema_for::<T>();
        let params = parameters_from_schema(ctx, schema, ParamLocation::Path);
        add_new_parameters(operation, params);
        add_refusal(ctx, operation, 400, "A path parameter is invalid (`invalid-params`).", false);
    }
}

/// What the wrapped extractor describes, and the 400 of a broken rule.
#[cfg(feature = "garde")]
impl<E: OperationInput> OperationInput for crate::extract::Valid<E> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        E::operation_input(ctx, operation);
        add_refusal(ctx, operation, 400, "A validation rule is broken (`invalid-params`).", false);
    }
}

/// The bare 500.
impl OperationOutput for InternalError {
    type Inner = ProblemDetails;

    fn operation_response(ctx: &mut GenContext, _: &mut Operation) -> Option<Response> {
        Some(problem_response(ctx, "An internal error; nothing of it is disclosed.", false))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, Response)> {
        Self::operation_response(ctx, operation)
            .map(|error| (Some(500), error))
            .into_iter()
            .collect()
    }
}

/// A guarded handler's response is its handler's: the guard adds a header at most.
impl<R: OperationOutput> OperationOutput for Guarded<R> {
    type Inner = R::Inner;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<Response> {
        R::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, Response)> {
        R::inferred_responses(ctx, operation)
    }
}

/// A problem document; its status is the handler's to say, so it is the default response.
impl OperationOutput for Problem {
    type Inner = ProblemDetails;

    fn operation_response(ctx: &mut GenContext, _: &mut Operation) -> Option<Response> {
        Some(problem_response(ctx, "A problem document.", false))
    }
}
