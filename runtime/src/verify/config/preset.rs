//! Known identity providers: where each one's keys are, how it spells its issuer, which claims
//! hold its scopes, its roles and its audience. A [`Preset`] only fills in [`VerifierBuilder`] settings that
//! exist anyway; [`VerifierBuilder::preset`] applies it, and anything set afterwards wins.

use super::builder::VerifierBuilder;
use crate::keys::Key;
use crate::step_up::AcrSource;
use crate::verify::claims::{AccessTokenMark, ScopeClaim};

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
    /// How the provider tells its access tokens from its ID and refresh tokens, which the same
    /// keys sign.
    access_token_marks: Vec<AccessTokenMark>,
    identity_by_issuer: Option<bool>,
    /// Where the provider says how the user signed in, when not (only) in `acr`.
    acr_sources: Option<Vec<AcrSource>>,
}

/// The claim `name` must be exactly `value`.
fn equals(name: &str, value: &str) -> AccessTokenMark {
    AccessTokenMark::Equals { name: name.to_owned(), value: value.to_owned() }
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
            access_token_marks: Vec::new(),
            identity_by_issuer: None,
            acr_sources: None,
        }
    }

    /// Auth0: `domain` is the tenant's (`acme.eu.auth0.com`) or a custom domain. Issuer
    /// `https://{domain}/` (with its slash), keys at `/.well-known/jwks.json`, scopes in `scope`
    /// and, with RBAC, in `permissions`. Access tokens for an API carry `aud` as an array of the
    /// API identifier and the `/userinfo` URL. No role claims: Auth0 puts roles in access tokens
    /// only through an Action of yours, under a namespaced claim; name it with
    /// [`VerifierBuilder::role_claims`] (`https://example.com/roles`) after the preset.
    ///
    /// Step-up authentication: Auth0 marks a multi-factor sign-in with `mfa` in the `amr` claim,
    /// and prompts for multi-factor when asked for the class [`Preset::AUTH0_MFA`]
    /// (`acr_values`). The preset reads `acr`, and `amr` holding `mfa` as that class, so
    /// `#[requires_authentication(acr = "http://schemas.openid.net/pape/policies/2007/06/multi-factor")]`
    /// answers a sign-in without multi-factor with the class Auth0 understands. Auth0 puts
    /// `amr` (and `auth_time`) in ID tokens; for access tokens, a post-login Action of yours
    /// sets them (`api.accessToken.setCustomClaim`), from `event.authentication.methods`.
    pub fn auth0(domain: &str) -> Self {
        let domain = trimmed(domain.trim_start_matches("https://"));
        let mut preset = Self::new(
            "Auth0",
            vec![format!("https://{domain}/")],
            format!("https://{domain}/.well-known/jwks.json"),
        );
        preset.scope_claims = vec![ScopeClaim::Scope, ScopeClaim::Permissions];
        preset.acr_sources = Some(vec![
            AcrSource::Acr,
            AcrSource::Method {
                claim: "amr".to_owned(),
                method: "mfa".to_owned(),
                class: Self::AUTH0_MFA.to_owned(),
            },
        ]);
        preset
    }

    /// The class Auth0 prompts for multi-factor with, and which [`Preset::auth0`] reads from
    /// `mfa` in `amr`.
    pub const AUTH0_MFA: &'static str =
        "http://schemas.openid.net/pape/policies/2007/06/multi-factor";

    /// Keycloak: `base_url` is the server (`https://sso.example.com`, or with `/auth` before
    /// Keycloak 17), `realm` the realm. Issuer `{base_url}/realms/{realm}`, keys at
    /// `/protocol/openid-connect/certs`, scopes in `scope`, realm roles in `realm_access.roles`.
    /// Keycloak sets `aud` only through an audience mapper (often `account` otherwise): add one
    /// for your API's client. A client's roles are in `resource_access.{client}.roles`: for them,
    /// call [`VerifierBuilder::role_claims`] after the preset with both paths (it replaces the
    /// preset's list).
    ///
    /// Keycloak signs its ID, refresh and logout tokens with the realm's keys too, and names the
    /// kind of each in the `typ` claim: `Bearer` for access tokens, `ID`, `Refresh`, `Offline`,
    /// `Logout` for the others. The preset accepts `Bearer` only: another `typ` is refused as
    /// `WrongType`, and a token without the claim as `MissingClaim`, since Keycloak sets it in
    /// every token it issues (lightweight access tokens included): a token without it did not
    /// come from Keycloak's token endpoint as an access token.
    pub fn keycloak(base_url: &str, realm: &str) -> Self {
        let issuer = format!("{}/realms/{realm}", trimmed(base_url));
        let jwks = format!("{issuer}/protocol/openid-connect/certs");
        let mut preset = Self::new("Keycloak", vec![issuer], jwks);
        preset.role_claims = vec!["realm_access.roles"];
        preset.access_token_marks = vec![equals("typ", "Bearer")];
        preset
    }

    /// Microsoft Entra ID, v2.0 tokens, for the tenants listed (tenant ids, an allow-list):
    /// issuer `https://login.microsoftonline.com/{tenant}/v2.0` for each, Microsoft's common key
    /// set, scopes in `scp`, app roles in `roles` (assigned to the user, or to the calling
    /// application for app-only tokens). With several tenants, a caller is the pair (tenant
    /// issuer, subject). The audience is your application's client id or its `api://…` URI; the
    /// API must be set to v2 tokens (`accessTokenAcceptedVersion: 2` in its manifest).
    ///
    /// ID tokens are signed with the same keys, and when one app registration both signs users
    /// in and is the API, their `aud` is the API's client id. The preset refuses them as
    /// Microsoft documents: `ver` must be `2.0` (absent: `MissingClaim`); a token must carry
    /// `scp` (delegated) or `roles` (app-only), as Microsoft.Identity.Web requires of every
    /// access token (`IDW10201`), which ID tokens without app roles lack; and `idtyp`, which
    /// Entra puts in access tokens only (`app`, and `user` with the optional claim's
    /// `include_user_token`), must be one of those two when present. All of these are
    /// `WrongType` refusals. An ID token that carries app roles (`roles`) of a registration that
    /// is its own API still passes: give the client and the API separate registrations.
    ///
    /// Step-up authentication: Entra ID's authentication contexts (`c1` to `c99`, tied to
    /// Conditional Access policies) are in the `acrs` claim, an array; the preset reads it, so
    /// `#[requires_authentication(acr = "c1")]` refuses a token without `c1` with
    /// `acr_values="c1"`, which the client turns into Entra's claims challenge. Entra has no
    /// `acr` claim in v2.0 access tokens.
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
        preset.acr_sources = Some(vec![AcrSource::List("acrs".to_owned())]);
        preset.access_token_marks = vec![
            equals("ver", "2.0"),
            AccessTokenMark::AnyOf { names: vec!["scp".to_owned(), "roles".to_owned()] },
            AccessTokenMark::OneOfWhenPresent {
                name: "idtyp".to_owned(),
                values: vec!["app".to_owned(), "user".to_owned()],
            },
        ];
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
        preset.access_token_marks = vec![equals("token_use", "access")];
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

    /// Where the preset reads how the user signed in (`#[requires_authentication]`): `None`
    /// when the provider uses the `acr` claim, the default.
    pub fn acr_sources(&self) -> Option<&[AcrSource]> {
        self.acr_sources.as_deref()
    }

    /// Where the keys are fetched from, unless keys are given with [`Preset::key`].
    pub fn jwks_location(&self) -> &str {
        &self.jwks_url
    }

    /// The preset's settings on `builder`. A JWKS URL without the `jwks` feature: the build
    /// says the feature is needed (give the preset keys with [`Preset::key`]).
    fn apply(self, mut builder: VerifierBuilder) -> VerifierBuilder {
        for issuer in self.issuers {
            builder = builder.issuer(issuer);
        }
        if self.keys.is_empty() {
            builder.jwks_url = Some(self.jwks_url);
        } else {
            builder = self.keys.into_iter().fold(builder, VerifierBuilder::key);
        }
        builder = builder.scope_claims(self.scope_claims);
        if !self.role_claims.is_empty() {
            builder = builder.role_claims(self.role_claims);
        }
        if let Some(claim) = self.audience_claim {
            builder = builder.audience_claim(claim);
        }
        builder.access_token_marks.extend(self.access_token_marks);
        if let Some(by_issuer) = self.identity_by_issuer {
            builder.identity_by_issuer = Some(by_issuer);
        }
        if let Some(sources) = self.acr_sources {
            builder = builder.acr_sources(sources);
        }
        builder
    }
}

impl VerifierBuilder {
    /// Applies the settings of a known identity provider ([`Preset`]): its issuer, its keys'
    /// URL, its scope and audience claims. Settings made afterwards win; the audience is yours
    /// to set.
    pub fn preset(self, preset: Preset) -> Self {
        preset.apply(self)
    }
}
