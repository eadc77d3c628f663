//! [`ResourceMetadata`]: the RFC 9728 protected resource metadata as one value that checks
//! itself.

use super::error::{ConfigError, ResourceError, from_var};
use super::settings::Expect;
use crate::dpop::DpopSettings;
use crate::scope::{is_scope_char, is_scope_token};
use crate::verify::metadata::{Document, Metadata, audience_is_resource, check_resource};

/// The OpenID Connect scope that asks for a refresh token: never one of a resource's scopes.
const OFFLINE_ACCESS: &str = "offline_access";

/// The RFC 9728 protected resource metadata of this API, given to
/// [`VerifierBuilder::resource_metadata`](super::VerifierBuilder::resource_metadata).
///
/// With a [resource identifier](Self::resource) (in code, or `PORTCULLIS_RESOURCE`):
///
/// - [`Verifier::metadata_router`](crate::Verifier::metadata_router) serves the document at
///   the path derived from it (§3.1: `https://api.example/documents` →
///   `/.well-known/oauth-protected-resource/documents`);
/// - every challenge (401, and 403 `insufficient_scope`) names that document's URL in
///   `resource_metadata` (§5.1);
/// - it is DPoP's origin too, unless [`Dpop::origin`](super::Dpop::origin) sets another.
///
/// Checked by [`build`](super::VerifierBuilder::build), each problem a [`ResourceError`].
///
/// ```
/// use portcullis::config::ResourceMetadata;
/// use portcullis::{Key, Verifier};
///
/// let verifier = Verifier::builder()
///     .issuer("https://issuer.example")
///     .audience("https://api.example/documents")
///     .key(Key::hmac(b"a secret of at least thirty-two bytes")?)
///     .resource_metadata(
///         ResourceMetadata::new()
///             .resource("https://api.example/documents")
///             .scopes_supported(["docs:read", "docs:write"]),
///     )
///     .build()?;
/// assert_eq!(
///     verifier.resource_metadata_url(),
///     Some("https://api.example/.well-known/oauth-protected-resource/documents"),
/// );
/// let app: axum::Router = verifier.metadata_router().with_state(verifier);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ResourceMetadata {
    /// The resource identifier: the API's public URL.
    resource: Option<String>,
    /// `PORTCULLIS_RESOURCE` when the identifier came from it.
    pub(super) resource_var: Option<&'static str>,
    scopes_supported: Vec<String>,
    name: Option<String>,
    documentation: Option<String>,
    /// Whether the accepted audiences must be exactly the resource identifier.
    audience_is_resource: bool,
}

/// Where a checked document is served.
#[derive(Debug)]
pub(super) struct Located {
    path: String,
    pub(super) url: String,
}

impl ResourceMetadata {
    /// No metadata yet: a resource identifier may still come from `PORTCULLIS_RESOURCE`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The resource identifier of this API (RFC 9728; `PORTCULLIS_RESOURCE`): its public URL as
    /// clients reach it (`https://api.example.com`, or with a path: `https://example.com/api`),
    /// an `https` URL (`http` only to a loopback host, or with
    /// [`.dangerous().allow_http()`](super::Dangerous::allow_http)), without query or fragment.
    pub fn resource(mut self, url: impl Into<String>) -> Self {
        self.resource = Some(url.into());
        self.resource_var = None;
        self
    }

    /// The scopes the metadata document lists in `scopes_supported`: the vocabulary of a
    /// [`scopes!`](crate::scopes) enum (`Scope::ALL`), or strings. Replaces those set before;
    /// none by default (the member is then left out). Each must be an RFC 6749 `scope-token`, and
    /// none `offline_access`, which asks an authorization server for a refresh token and grants no
    /// access to a resource (an MCP server advertising it is misconfigured: SEP-2207).
    pub fn scopes_supported<I, T>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.scopes_supported = scopes.into_iter().map(|scope| scope.as_ref().to_owned()).collect();
        self
    }

    /// The human-readable name of this API, the document's `resource_name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A page for developers using this API, the document's `resource_documentation`: an
    /// `http(s)` URL.
    pub fn documentation(mut self, url: impl Into<String>) -> Self {
        self.documentation = Some(url.into());
        self
    }

    /// Requires the accepted audiences to be exactly the [resource](Self::resource) identifier,
    /// as the MCP authorization specification requires of every MCP server: it accepts only the
    /// tokens issued for it (RFC 8707 `resource`, which the authorization server puts in `aud`),
    /// never one issued for another resource. [`build`](super::VerifierBuilder::build) then
    /// fails with [`ResourceError::AudienceIsNotResource`] unless a resource identifier is set
    /// and the audiences are that same string and nothing else: not any audience, not a second
    /// audience, not the URL spelt another way (a trailing slash, another case), which tokens
    /// would not name.
    ///
    /// ```
    /// use portcullis::config::{ResourceError, ResourceMetadata};
    /// use portcullis::{ConfigError, Key, Verifier};
    ///
    /// let mcp = || {
    ///     Verifier::builder()
    ///         .issuer("https://issuer.example")
    ///         .key(Key::hmac(b"a secret of at least thirty-two bytes").unwrap())
    ///         .resource_metadata(
    ///             ResourceMetadata::new().resource("https://mcp.example.com/mcp").audience_is_resource(),
    ///         )
    /// };
    /// assert!(mcp().audience("https://mcp.example.com/mcp").build().is_ok());
    /// assert!(matches!(
    ///     mcp().audience("https://api.example.com").build(),
    ///     Err(ConfigError::Resource(ResourceError::AudienceIsNotResource { .. })),
    /// ));
    /// ```
    pub fn audience_is_resource(mut self) -> Self {
        self.audience_is_resource = true;
        self
    }

    /// The resource identifier, if one is configured.
    pub(super) fn resource_url(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// The identifier `PORTCULLIS_RESOURCE` holds: it wins over the code's.
    pub(super) fn resource_from_env(&mut self, url: String, var: &'static str) {
        self.resource = Some(url);
        self.resource_var = Some(var);
    }

    /// `self`, with the resource identifier `before` read from the environment when `self`
    /// names none.
    pub(super) fn keeping_resource_of(mut self, before: Self) -> Self {
        if self.resource.is_none() && before.resource_var.is_some() {
            self.resource = before.resource;
            self.resource_var = before.resource_var;
        }
        self
    }

    /// The document's path and URL, `None` without a resource identifier.
    pub(super) fn locate(&self, allow_http: bool) -> Result<Option<Located>, ConfigError> {
        let Some(url) = &self.resource else { return Ok(None) };
        let resource = check_resource(url, allow_http).map_err(|problem| {
            let error = ResourceError::InvalidResource { url: url.clone(), problem };
            from_var(self.resource_var, error)
        })?;
        if let Some(scope) = self.scopes_supported.iter().find(|scope| !is_scope_token(scope)) {
            return Err(ResourceError::InvalidSupportedScope(scope.clone()).into());
        }
        if self.scopes_supported.iter().any(|scope| scope == OFFLINE_ACCESS) {
            return Err(ResourceError::OfflineAccessSupported.into());
        }
        if let Some(doc) = &self.documentation {
            let http = doc.split_once("://").is_some_and(|(scheme, rest)| {
                ["http", "https"].iter().any(|known| scheme.eq_ignore_ascii_case(known))
                    && !rest.is_empty()
            });
            if !http || !doc.bytes().all(is_scope_char) {
                return Err(ResourceError::InvalidDocumentation(doc.clone()).into());
            }
        }
        Ok(Some(Located { path: resource.metadata_path(), url: resource.metadata_url() }))
    }

    /// With [`audience_is_resource`](Self::audience_is_resource), that the accepted `audience`
    /// is exactly the resource identifier; checked before the audience's own check, whose
    /// advice (any audience) would be wrong here.
    pub(super) fn check_audience(&self, audience: &Expect) -> Result<(), ResourceError> {
        if !self.audience_is_resource {
            return Ok(());
        }
        let audiences = match audience {
            Expect::Unset => Some(&[][..]),
            Expect::Any => None,
            Expect::OneOf(audiences) => Some(audiences.as_slice()),
        };
        if audience_is_resource(self.resource.as_deref(), audiences) {
            return Ok(());
        }
        Err(ResourceError::AudienceIsNotResource {
            resource: self.resource.clone(),
            audiences: audiences.map(<[String]>::to_vec),
        })
    }

    /// The document served at `located`, rendered once.
    pub(super) fn document(
        &self,
        located: Located,
        issuers: Option<&[String]>,
        query_token: bool,
        dpop: Option<&DpopSettings>,
    ) -> Metadata {
        let bearer: &[&str] = if query_token { &["header", "query"] } else { &["header"] };
        let document = Document {
            resource: self.resource.as_deref().unwrap_or_default(),
            authorization_servers: issuers,
            scopes_supported: &self.scopes_supported,
            bearer_methods_supported: bearer,
            resource_name: self.name.as_deref(),
            resource_documentation: self.documentation.as_deref(),
            dpop_signing_alg_values_supported: dpop
                .map(|dpop| dpop.algorithms.iter().map(|alg| alg.as_str()).collect()),
            dpop_bound_access_tokens_required: dpop.map(|dpop| dpop.required),
        };
        Metadata::new(located.path, located.url, &document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Key;
    use crate::verify::Verifier;
    use crate::verify::config::{VerifierBuilder, env};
    use std::ffi::OsString;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const MCP: &str = "https://mcp.example/mcp";

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    fn mcp(resource: Option<&str>) -> VerifierBuilder {
        let metadata = ResourceMetadata::new().audience_is_resource();
        let metadata = match resource {
            Some(url) => metadata.resource(url),
            None => metadata,
        };
        Verifier::builder()
            .issuer("iss")
            .key(Key::hmac(SECRET).unwrap())
            .resource_metadata(metadata)
    }

    fn refused(builder: VerifierBuilder) -> (Option<String>, Option<Vec<String>>, String) {
        match builder.build() {
            Err(ConfigError::Resource(ResourceError::AudienceIsNotResource {
                resource,
                audiences,
            })) => {
                let error = ResourceError::AudienceIsNotResource {
                    resource: resource.clone(),
                    audiences: audiences.clone(),
                };
                (resource, audiences, error.to_string())
            }
            other => panic!("expected AudienceIsNotResource, got {other:?}"),
        }
    }

    #[test]
    fn audience_is_resource_accepts_the_resource_alone() {
        let verifier = mcp(Some(MCP)).audience(MCP).build().unwrap();
        assert_eq!(
            verifier.resource_metadata_url(),
            Some("https://mcp.example/.well-known/oauth-protected-resource/mcp")
        );
        let (resource, audiences, message) = refused(mcp(Some(MCP)).dangerous().any_audience());
        assert_eq!((resource.as_deref(), audiences), (Some(MCP), None));
        assert_eq!(
            message,
            "an MCP server accepts only the tokens issued for it (audience_is_resource), but any \
             audience would be accepted: accept exactly the resource identifier \
             \"https://mcp.example/mcp\" (.audience(..) or PORTCULLIS_AUDIENCE), and nothing else"
        );
        let (_, audiences, message) =
            refused(mcp(Some(MCP)).audience(MCP).audience("https://api.example"));
        assert_eq!(audiences, Some(vec![MCP.to_owned(), "https://api.example".to_owned()]));
        assert!(
            message.contains(r#"the audiences ["https://mcp.example/mcp", "https://api.example"]"#)
        );
        for other in ["https://api.example", "https://mcp.example/mcp/", "HTTPS://mcp.example/mcp"]
        {
            let (_, audiences, _) = refused(mcp(Some(MCP)).audience(other));
            assert_eq!(audiences, Some(vec![other.to_owned()]));
        }
        let (_, audiences, message) = refused(mcp(Some(MCP)));
        assert_eq!(audiences, Some(vec![]));
        assert!(message.contains("but no audience is configured"), "{message}");
        assert!(!message.contains("any_audience"), "{message}");
        let (resource, _, message) = refused(mcp(None).audience(MCP));
        assert_eq!(resource, None);
        assert!(message.contains("no resource identifier is configured"), "{message}");
        assert!(message.contains("PORTCULLIS_RESOURCE"), "{message}");
        // From the environment too, before or after the value; without the setting, any
        // audience still builds.
        let vars = env(&[(env::RESOURCE, MCP), (env::AUDIENCE, "https://mcp.example/mcp, other")]);
        let (_, audiences, _) = refused(mcp(None).with_env(vars).unwrap());
        assert_eq!(audiences, Some(vec![MCP.to_owned(), "other".to_owned()]));
        let from_env = Verifier::builder()
            .issuer("iss")
            .audience(MCP)
            .key(Key::hmac(SECRET).unwrap())
            .with_env(env(&[(env::RESOURCE, MCP)]))
            .unwrap()
            .resource_metadata(ResourceMetadata::new().audience_is_resource());
        assert!(from_env.build().is_ok(), "the identifier read before the value is kept");
        let any = Verifier::builder().issuer("iss").key(Key::hmac(SECRET).unwrap());
        let any = any.resource_metadata(ResourceMetadata::new().resource(MCP));
        assert!(any.dangerous().any_audience().build().is_ok());
    }

    #[test]
    fn the_check_refuses_what_build_refused() {
        let located = |metadata: ResourceMetadata| metadata.locate(false);
        assert!(matches!(located(ResourceMetadata::new()), Ok(None)));
        let error = located(ResourceMetadata::new().resource("http://api.example")).unwrap_err();
        assert!(matches!(error, ConfigError::Resource(ResourceError::InvalidResource { .. })));
        assert!(error.to_string().starts_with("the resource identifier \"http://api.example\""));
        let https = || ResourceMetadata::new().resource("https://api.example");
        let error = located(https().scopes_supported(["docs:read", "offline_access"])).unwrap_err();
        assert!(matches!(error, ConfigError::Resource(ResourceError::OfflineAccessSupported)));
        let error = located(https().scopes_supported(["docs read"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "scopes_supported: \"docs read\" is not an RFC 6749 scope-token"
        );
        let error = located(https().documentation("ftp://docs.example")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "resource_documentation: \"ftp://docs.example\" is not an http(s) URL"
        );
        assert!(matches!(located(https().name("Documents")), Ok(Some(_))));
        // From the environment, the error names the variable.
        let mut metadata = ResourceMetadata::new();
        metadata.resource_from_env("http://api.example".to_owned(), env::RESOURCE);
        let error = located(metadata).unwrap_err();
        assert!(matches!(&error, ConfigError::Env(env) if env.var() == "PORTCULLIS_RESOURCE"));
        assert!(error.to_string().starts_with("PORTCULLIS_RESOURCE: the resource identifier"));
    }
}
