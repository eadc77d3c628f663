//! `GET /openapi.json`: the OpenAPI 3.1 document of the API, built with aide from the same
//! handlers the router serves.
//!
//! Each guarded operation's security requirement and refusals (400, 401, 403, 404, 413, 415)
//! come from its guard and its portcullis extractors (`portcullis::openapi`); the parameters and
//! bodies from the types' schemas, whose limits schemars reads from the `garde` rules. Written
//! here: only what a handler's signature cannot say (a `201` with `Location`, a `204`, the
//! `Link` of a page).

use std::sync::LazyLock;

use aide::axum::ApiRouter;
use aide::axum::routing::{get, get_with, put_with};
use aide::openapi::{Info, OpenApi, ReferenceOr, Response};
use aide::transform::TransformOperation;
use axum::http::header;
use axum::response::{IntoResponse, NoContent};
use portcullis::extract::Json;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::{AppState, Cursor, Document};

/// The document, built once.
static DOCUMENT: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let api = document();
    serde_json::to_vec(&api).unwrap_or_default()
});

/// `GET /openapi.json`: public, `application/json`.
pub(crate) async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_slice())
}

/// The OpenAPI document of every route of [`routes`]; `/openapi.json` itself, the metadata
/// document (RFC 9728, when a resource is configured) and the fallback are served beside them.
pub(crate) fn document() -> OpenApi {
    let mut api = OpenApi {
        info: Info {
            title: "documents".into(),
            description: Some(
                "Every user keeps their own documents, behind portcullis guards.".into(),
            ),
            version: env!("CARGO_PKG_VERSION").into(),
            ..Info::default()
        },
        ..OpenApi::default()
    };
    let _ = routes().finish_api_with(&mut api, portcullis::openapi::describe);
    api
}

/// The API's routes, each with its operation: [`crate::router`] serves them, and the document
/// describes them, so that neither can have a route the other lacks.
pub(crate) fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .api_route("/health", get(super::health))
        .api_route(
            "/documents",
            get_with(super::list, |op| op.response_with::<200, Json<Vec<Document>>, _>(page))
                .post_with(super::create, |op| {
                    op.response_with::<201, Json<Document>, _>(|response| {
                        header_of(response, "Location", "The new document: `/documents/{id}`.")
                    })
                }),
        )
        .api_route(
            "/documents/search",
            get_with(super::search, |op| {
                op.description("The caller's documents whose title contains `q`.")
            }),
        )
        .api_route("/documents/export", get(super::export::export))
        .api_route(
            "/documents/{id}",
            get(super::read)
                .put_with(super::update, |op| op.response::<200, Json<Document>>())
                .delete_with(super::remove, no_content),
        )
        .api_route(
            "/documents/{id}/shares/{subject}",
            put_with(super::share, no_content).delete_with(super::unshare, no_content),
        )
        .api_route("/admin/stats", get(super::stats))
        .api_route("/admin/documents", get(super::all_documents))
        .api_route("/whoami", get(super::whoami))
}

fn no_content(op: TransformOperation<'_>) -> TransformOperation<'_> {
    op.response::<204, NoContent>()
}

/// A page of `GET /documents`, with the `Link` to the next.
fn page(
    response: aide::transform::TransformResponse<'_, Vec<Document>>,
) -> aide::transform::TransformResponse<'_, Vec<Document>> {
    header_of(response, "Link", "`<…>; rel=\"next\"` when more documents follow (RFC 8288).")
}

fn header_of<'t, T>(
    mut response: aide::transform::TransformResponse<'t, T>,
    name: &str,
    description: &str,
) -> aide::transform::TransformResponse<'t, T> {
    let header = aide::openapi::Header {
        description: Some(description.into()),
        style: Default::default(),
        required: false,
        deprecated: None,
        format: aide::openapi::ParameterSchemaOrContent::Schema(aide::openapi::SchemaObject {
            json_schema: json_schema!({"type": "string"}),
            example: None,
            external_docs: None,
        }),
        example: None,
        examples: Default::default(),
        extensions: Default::default(),
    };
    let inner: &mut Response = response.inner();
    inner.headers.insert(name.into(), ReferenceOr::Item(header));
    response
}

/// An opaque string copied from a `Link` header.
impl JsonSchema for Cursor {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Cursor".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Where the page starts: copied from the previous page's `Link`.",
            "pattern": "^[A-Za-z0-9_-]{12}$"
        })
    }
}
