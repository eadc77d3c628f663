//! Known identity providers: where each one's keys are, how it spells its issuer, which claims
//! hold its scopes, its roles and its audience. A [`Preset`] only fills in [`VerifierBuilder`] settings that
//! exist anyway; [`VerifierBuilder::preset`] applies it, and anything set afterwards wins.

use super::builder::VerifierBuilder;
use super::claims::ScopeClaim;
use crate::keys::Key;

/// The settings of one identity provider, from its documented token shapes.
///
/// ```
/// use portcullis::{Preset, Verifier};
///
/// let verifier = Verifier::builder()
///     .preset(Preset::auth0("acme.eu.auth0.com"))
///     .audience("https://documents.example.com")
///     .build()?;
/// # Ok::<(), portcullis::ConfigError>(())
/// ```
///
/// The audience is yours to set: it names your API at the provider.
#[derive(Debug, Clone)]
#[must_use]
pub struct Preset {
    name: &'static str,
    issuers: Vec<String>,
    jwks_url: String,
    keys: Vec<Key>,
    scope_claims: Vec<ScopeClaim>,
    /// Where the provider documents roles (or groups) in access tokens, as dotted claim paths.
    role_claims: Vec<&'static str>,
    audience_claim: Option<&'static str>,
    required_values: Vec<(&'static str, &'static str)>,
    identity_by_issuer: Option<bool>,
}

/// `url` without the trailing slashes.
fn trimmed(url: &str) -> &str {
    url.trim_end_matches('/')
}

impl Preset {
    fn new(name: &'static str, issuers: Vec<String>, jwks_url: String) -> Self {
        Self {
            name,
            issuers,
            jwks_url,
            keys: Vec::new(),
            scope_claims: vec![ScopeClaim::Scope],
            role_claims: Vec::new(),
            audience_claim: None,
            required_values: Vec::new(),
            identity_by_issuer: None,
        }
    }

    /// Auth0: `domain` is the tenant's (`acme.eu.auth0.com`) or a custom domain. Issuer
    /// `https://{domain}/` (with its slash), keys at `/.well-known/jwks.json`, scopes in `scope`
    /// and, with RBAC, in `permissions`. Access tokens for an API carry `aud` as an array of the
    /// API identifier and the `/userinfo` URL. No role claims: Auth0 puts roles in access tokens
    /// only through an Action of yours, under a namespaced claim; name it with
    /// [`VerifierBuilder::role_claims`] (`https://example.com/roles`) after the preset.
    pub fn auth0(domain: &str) -> Self {
        let domain = trimmed(domain.trim_start_matches("https://"));
        let mut preset = Self::new(
            "Auth0",
            vec![format!("https://{domain}/")],
            format!("https://{domain}/.well-known/jwks.json"),
        );
        preset.scope_claims = vec![ScopeClaim::Scope, ScopeClaim::Permissions];
        preset
    }

    /// Keycloak: `base_url` is the server (`https://sso.example.com`, or with `/auth` before
    /// Keycloak 17), `realm` the realm. Issuer `{base_url}/realms/{realm}`, keys at
    /// `/protocol/openid-connect/certs`, scopes in `scope`, realm roles in `realm_access.roles`.
    /// Keycloak sets `aud` only through an audience mapper (often `account` otherwise): add one
    /// for your API's client. A client's roles are in `resource_access.{client}.roles`: for them,
    /// call [`VerifierBuilder::role_claims`] after the preset with both paths (it replaces the
    /// preset's list).
    pub fn keycloak(base_url: &str, realm: &str) -> Self {
        let issuer = format!("{}/realms/{realm}", trimmed(base_url));
        let jwks = format!("{issuer}/protocol/openid-connect/certs");
        let mut preset = Self::new("Keycloak", vec![issuer], jwks);
        preset.role_claims = vec!["realm_access.roles"];
        preset
    }

    /// Microsoft Entra ID, v2.0 tokens, for the tenants listed (tenant ids, an allow-list):
    /// issuer `https://login.microsoftonline.com/{tenant}/v2.0` for each, Microsoft's common key
    /// set, scopes in `scp`, app roles in `roles` (assigned to the user, or to the calling
    /// application for app-only tokens). With several tenants, a caller is the pair (tenant
    /// issuer, subject). The audience is your application's client id or its `api://…` URI; the
    /// API must be set to v2 tokens (`accessTokenAcceptedVersion: 2` in its manifest).
    pub fn entra_id<T: AsRef<str>>(tenants: impl IntoIterator<Item = T>) -> Self {
        let issuers = tenants
            .into_iter()
            .map(|tenant| format!("https://login.microsoftonline.com/{}/v2.0", tenant.as_ref()))
            .collect();
        let mut preset = Self::new(
            "Entra ID",
            issuers,
            "https://login.microsoftonline.com/common/discovery/v2.0/keys".to_owned(),
        );
        preset.scope_claims = vec![ScopeClaim::Scp];
        preset.role_claims = vec!["roles"];
        preset
    }

    /// Okta: `org_url` is the organisation (`https://acme.okta.com`), `authorization_server`
    /// the custom authorization server's id (`default` for the default one). Issuer
    /// `{org_url}/oauth2/{authorization_server}`, keys at `/v1/keys`, scopes in `scp` (an
    /// array); the client is in `cid`. Groups in `groups`: Okta's access tokens carry them once
    /// a Groups claim is added to the custom authorization server, which Okta's guide names
    /// `groups` (the org authorization server cannot put groups in access tokens). Named
    /// otherwise, set it with [`VerifierBuilder::role_claims`] after the preset.
    pub fn okta(org_url: &str, authorization_server: &str) -> Self {
        let issuer = format!("{}/oauth2/{authorization_server}", trimmed(org_url));
        let jwks = format!("{issuer}/v1/keys");
        let mut preset = Self::new("Okta", vec![issuer], jwks);
        preset.scope_claims = vec![ScopeClaim::Scp];
        preset.role_claims = vec!["groups"];
        preset
    }

    /// Amazon Cognito user pools, access tokens: issuer
    /// `https://cognito-idp.{region}.amazonaws.com/{user_pool_id}`, keys at
    /// `/.well-known/jwks.json`, scopes in `scope`, the user's groups in `cognito:groups`.
    /// Access tokens have no `aud`: the audience is the app client id in `client_id` (set it
    /// with `.audience(..)`), and `token_use` must be `access` (ID tokens say `id`).
    pub fn cognito(region: &str, user_pool_id: &str) -> Self {
        let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}");
        let jwks = format!("{issuer}/.well-known/jwks.json");
        let mut preset = Self::new("Cognito", vec![issuer], jwks);
        preset.role_claims = vec!["cognito:groups"];
        preset.audience_claim = Some("client_id");
        preset.required_values = vec![("token_use", "access")];
        preset
    }

    /// Google: its signed JWTs are ID tokens (its access tokens are opaque), accepted by APIs
    /// that Google-signed service-to-service calls reach (Cloud Run, IAP, Pub/Sub push). Issuer
    /// `https://accounts.google.com` or `accounts.google.com` (both spellings are issued; one
    /// identity), keys at `https://www.googleapis.com/oauth2/v3/certs`, no scopes. The audience
    /// is your OAuth client id, or the URL the service was called at.
    pub fn google() -> Self {
        let mut preset = Self::new(
            "Google",
            vec!["https://accounts.google.com".to_owned(), "accounts.google.com".to_owned()],
            "https://www.googleapis.com/oauth2/v3/certs".to_owned(),
        );
        preset.scope_claims = Vec::new();
        // Two spellings of one issuer, not two issuers.
        preset.identity_by_issuer = Some(false);
        preset
    }

    /// Verifies with these keys instead of fetching the provider's (tests, air-gapped
    /// deployments): call once per key.
    pub fn key(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Fetches the keys from another URL (a mirror, or a test server).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = url.into();
        self
    }

    /// The provider's name, for logs.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The issuers this preset accepts.
    pub fn issuers(&self) -> &[String] {
        &self.issuers
    }

    /// The claim paths roles are read from ([`Principal::roles`](crate::Principal::roles),
    /// `#[requires_role]`); empty when the provider documents none.
    pub fn role_claims(&self) -> &[&'static str] {
        &self.role_claims
    }

    /// Where the keys are fetched from, unless keys are given with [`Preset::key`].
    pub fn jwks_location(&self) -> &str {
        &self.jwks_url
    }

    /// The preset's settings on `builder`.
    pub(super) fn apply(self, mut builder: VerifierBuilder) -> VerifierBuilder {
        for issuer in self.issuers {
            builder = builder.issuer(issuer);
        }
        builder = if self.keys.is_empty() {
            builder.preset_jwks_url(self.jwks_url)
        } else {
            self.keys.into_iter().fold(builder, VerifierBuilder::key)
        };
        builder = builder.scope_claims(self.scope_claims);
        if !self.role_claims.is_empty() {
            builder = builder.role_claims(self.role_claims);
        }
        if let Some(claim) = self.audience_claim {
            builder = builder.audience_claim(claim);
        }
        for (name, value) in self.required_values {
            builder = builder.require_claim_value(name, value);
        }
        if let Some(by_issuer) = self.identity_by_issuer {
            builder = builder.identity_by_issuer(by_issuer);
        }
        builder
    }
}
