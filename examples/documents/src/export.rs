//! `GET /documents/export`: every document of the caller at once, which a stolen session should
//! not be able to take. Step-up authentication (RFC 9470): besides `docs:read`, the user must
//! have signed in with multi-factor ([`MFA`]) within the last ten minutes; otherwise 401
//! `insufficient_user_authentication` with `acr_values="urn:documents:mfa"` and
//! `max_age="600"`, which a client turns into a new authorization request with those values.

use axum::extract::State;
use portcullis::extract::Json;
use portcullis::{InternalError, Principal};

use crate::{Document, Scope, Store};

/// The authentication context class of a multi-factor sign-in, as the identity provider names
/// it in `acr`.
pub const MFA: &str = "urn:documents:mfa";

/// The longest time since the sign-in that an export accepts, in seconds.
pub const EXPORT_MAX_AGE: u64 = 600;

/// Every document of the caller, oldest first, as one JSON array.
#[portcullis::requires_scope(Scope::DocsRead)]
#[portcullis::requires_authentication(acr = "urn:documents:mfa", max_age = "10m")]
pub(crate) async fn export(
    principal: Principal,
    State(store): State<Store>,
) -> Result<Json<Vec<Document>>, InternalError> {
    Ok(Json(store.owned_by(principal.id().as_str()).await?))
}
