//! [`OAuthClient`]: one OAuth2 or OpenID Connect provider, on the `oauth2` crate.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::RwLock;

/// The `id_token` that OpenID Connect adds to the token response.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl oauth2::ExtraTokenFields for IdTokenField {}

type ProviderTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

type Inner = oauth2::Client<
    BasicErrorResponse,
    ProviderTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Who the provider says the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's stable id at the provider (`sub` for OpenID Connect).
    pub account_id: String,
    /// Their email address, if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider vouches that the address is the user's.
    pub email_verified: bool,
}

/// The provider's tokens for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderTokens {
    /// The access token.
    pub access_token: String,
    /// When it expires, in seconds since the epoch.
    pub expires_at: Option<i64>,
    /// The refresh token, if the provider gave one.
    pub refresh_token: Option<String>,
    /// The OpenID Connect ID token, if any.
    pub id_token: Option<String>,
}

/// Why talking to the provider failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthClientError {
    /// The provider answered with an OAuth error (`invalid_grant` for a bad or used code).
    #[error("the provider refused: {0}")]
    Refused(String),
    /// The provider could not be reached, or answered something unreadable.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// The ID token is not valid: signature, issuer, audience or expiry.
    #[error("invalid ID token: {0}")]
    InvalidIdToken(String),
    /// The client's configuration is wrong (a bad URL).
    #[error("OAuth client configuration: {0}")]
    Config(String),
}

/// How the user's identity is learned once the code is exchanged.
#[derive(Debug, Clone)]
enum IdentitySource {
    /// OpenID Connect: the ID token, checked against the provider's keys.
    OpenId(Arc<OpenId>),
    /// A JSON user-info endpoint, read with the access token.
    UserInfo {
        url: String,
        id_field: String,
        email_field: String,
        verified_field: Option<String>,
    },
    /// GitHub: `/user` for the id, `/user/emails` for the primary verified address.
    GitHub { api: String },
}

#[derive(Debug)]
struct OpenId {
    issuer: Issuer,
    jwks_uri: String,
    keys: RwLock<Option<(JwkSet, Instant)>>,
}

#[derive(Debug, Clone)]
enum Issuer {
    Exact(String),
    /// Microsoft's multi-tenant endpoints: the issuer names the user's tenant (`tid`).
    MicrosoftAnyTenant,
}

/// One OAuth2 or OpenID Connect provider: its endpoints, the application's credentials, the
/// scopes to ask for, and how to learn who the user is. Every flow uses PKCE (S256).
///
/// ```
/// use fastusers::oauth::OAuthClient;
///
/// let google = OAuthClient::google("client-id", "client-secret");
/// let github = OAuthClient::github("client-id", "client-secret");
/// let custom = OAuthClient::new(
///     "acme",
///     "client-id",
///     "client-secret",
///     "https://sso.acme.example/authorize",
///     "https://sso.acme.example/token",
/// )
/// .unwrap()
/// .userinfo("https://sso.acme.example/userinfo", "id", "email")
/// .scopes(["profile", "email"]);
/// assert_eq!((google.name(), github.name(), custom.name()), ("google", "github", "acme"));
/// ```
#[derive(Debug, Clone)]
pub struct OAuthClient {
    name: String,
    client_id: String,
    inner: Inner,
    scopes: Vec<String>,
    identity: IdentitySource,
    trust_email: bool,
    http: oauth2::reqwest::Client,
}

fn http_client() -> oauth2::reqwest::Client {
    oauth2::reqwest::Client::builder()
        // Never follow redirects: a provider endpoint that redirects is misconfigured, and
        // following would let it point the server anywhere.
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("fastusers/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// How long fetched signing keys are trusted before a missing `kid` may fetch them again.
const JWKS_REFRESH: Duration = Duration::from_secs(30);

impl OAuthClient {
    /// A generic OAuth2 provider. Say how to learn the user's identity with
    /// [`userinfo`](Self::userinfo): a plain OAuth2 provider sends no ID token, so a client
    /// without a user-info endpoint cannot tell who logged in, and the OAuth routers refuse it
    /// when they are built. (For an OpenID Connect provider, use [`discover`](Self::discover).)
    pub fn new(
        name: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        authorize_url: &str,
        token_url: &str,
    ) -> Result<Self, OAuthClientError> {
        let client_id = client_id.into();
        let config = |e: url::ParseError| OAuthClientError::Config(e.to_string());
        let inner = oauth2::Client::new(ClientId::new(client_id.clone()))
            .set_client_secret(ClientSecret::new(client_secret.into()))
            .set_auth_uri(AuthUrl::new(authorize_url.to_owned()).map_err(config)?)
            .set_token_uri(TokenUrl::new(token_url.to_owned()).map_err(config)?);
        Ok(Self {
            name: name.into(),
            client_id,
            inner,
            scopes: Vec::new(),
            identity: IdentitySource::UserInfo {
                url: String::new(),
                id_field: "sub".to_owned(),
                email_field: "email".to_owned(),
                verified_field: None,
            },
            trust_email: false,
            http: http_client(),
        })
    }

    /// An OpenID Connect provider, found by discovery: fetches
    /// `{issuer}/.well-known/openid-configuration` for its endpoints and keys. ID tokens are
    /// checked against those keys, the issuer and the client id.
    pub async fn discover(
        name: impl Into<String>,
        issuer: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Result<Self, OAuthClientError> {
        let issuer = issuer.trim_end_matches('/');
        let http = http_client();
        let url = format!("{issuer}/.well-known/openid-configuration");
        let document = get_json(&http, &url, None).await?;
        let field = |key: &str| {
            document[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| OAuthClientError::Unavailable(format!("{url} has no {key}")))
        };
        let advertised = field("issuer")?;
        if advertised.trim_end_matches('/') != issuer {
            return Err(OAuthClientError::Config(format!(
                "the discovery document of {issuer} names another issuer, {advertised}"
            )));
        }
        let client = Self::new(
            name,
            client_id,
            client_secret,
            &field("authorization_endpoint")?,
            &field("token_endpoint")?,
        )?;
        Ok(client
            .openid(Issuer::Exact(advertised), field("jwks_uri")?)
            .scopes(["openid", "email", "profile"]))
    }

    fn openid(mut self, issuer: Issuer, jwks_uri: String) -> Self {
        self.identity = IdentitySource::OpenId(Arc::new(OpenId {
            issuer,
            jwks_uri,
            keys: RwLock::new(None),
        }));
        self
    }

    /// Google, by OpenID Connect (scopes `openid email profile`). Register the redirect URL
    /// in the Google Cloud console.
    pub fn google(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self::new(
            "google",
            client_id,
            client_secret,
            "https://accounts.google.com/o/oauth2/v2/auth",
            "https://oauth2.googleapis.com/token",
        )
        .expect("valid URLs")
        .openid(
            Issuer::Exact("https://accounts.google.com".to_owned()),
            "https://www.googleapis.com/oauth2/v3/certs".to_owned(),
        )
        .scopes(["openid", "email", "profile"])
    }

    /// GitHub (scopes `read:user user:email`). GitHub may hide the profile's email: the
    /// primary verified address is fetched from `/user/emails`.
    pub fn github(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        let mut client = Self::new(
            "github",
            client_id,
            client_secret,
            "https://github.com/login/oauth/authorize",
            "https://github.com/login/oauth/access_token",
        )
        .expect("valid URLs")
        .scopes(["read:user", "user:email"]);
        client.identity = IdentitySource::GitHub {
            api: "https://api.github.com".to_owned(),
        };
        client
    }

    /// Microsoft identity platform, by OpenID Connect. `tenant` is a tenant id or domain, or
    /// `common`, `organizations` or `consumers` for multi-tenant applications.
    pub fn microsoft(
        tenant: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        let base = format!("https://login.microsoftonline.com/{tenant}");
        let issuer = match tenant {
            "common" | "organizations" | "consumers" => Issuer::MicrosoftAnyTenant,
            _ => Issuer::Exact(format!("{base}/v2.0")),
        };
        Self::new(
            "microsoft",
            client_id,
            client_secret,
            &format!("{base}/oauth2/v2.0/authorize"),
            &format!("{base}/oauth2/v2.0/token"),
        )
        .expect("valid URLs")
        .openid(issuer, format!("{base}/discovery/v2.0/keys"))
        .scopes(["openid", "email", "profile"])
    }

    /// Learns the identity from this JSON user-info endpoint, read with the access token: the
    /// account id from `id_field`, the email from `email_field`.
    pub fn userinfo(mut self, url: &str, id_field: &str, email_field: &str) -> Self {
        self.identity = IdentitySource::UserInfo {
            url: url.to_owned(),
            id_field: id_field.to_owned(),
            email_field: email_field.to_owned(),
            verified_field: Some("email_verified".to_owned()),
        };
        self
    }

    /// The scopes asked for when the client names none.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Treats every email this provider gives as verified, for providers that only give
    /// verified addresses but do not say so. Default: false; an email counts as verified
    /// when the provider says so (`email_verified`, or GitHub's verified flag).
    pub fn trust_email(mut self, trust: bool) -> Self {
        self.trust_email = trust;
        self
    }

    /// The provider's name: the `oauth_name` of its accounts.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the name (to have two clients of one provider, or another name for a preset).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The URL to send the browser to, with the state, the PKCE challenge and the scopes.
    pub(crate) fn authorization_url(
        &self,
        redirect_uri: &str,
        state: String,
        challenge: PkceCodeChallenge,
        scopes: &[String],
    ) -> Result<String, OAuthClientError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| OAuthClientError::Config(format!("redirect URL: {e}")))?;
        let scopes = if scopes.is_empty() {
            &self.scopes
        } else {
            scopes
        };
        let (url, _) = self
            .inner
            .authorize_url(|| CsrfToken::new(state))
            .set_redirect_uri(Cow::Owned(redirect))
            .set_pkce_challenge(challenge)
            .add_scopes(scopes.iter().cloned().map(Scope::new))
            .url();
        Ok(url.to_string())
    }

    /// Exchanges the authorization code for tokens.
    pub(crate) async fn exchange(
        &self,
        code: String,
        redirect_uri: &str,
        verifier: PkceCodeVerifier,
    ) -> Result<ProviderTokens, OAuthClientError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| OAuthClientError::Config(format!("redirect URL: {e}")))?;
        let response = self
            .inner
            .exchange_code(AuthorizationCode::new(code))
            .set_redirect_uri(Cow::Owned(redirect))
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => {
                    OAuthClientError::Refused(r.error().as_ref().to_owned())
                }
                RequestTokenError::Request(e) => OAuthClientError::Unavailable(e.to_string()),
                RequestTokenError::Parse(e, _) => {
                    OAuthClientError::Unavailable(format!("unreadable token response: {e}"))
                }
                RequestTokenError::Other(e) => OAuthClientError::Unavailable(e),
            })?;
        let expires_at = response
            .expires_in()
            .map(|d| crate::token::now() as i64 + d.as_secs() as i64);
        Ok(ProviderTokens {
            access_token: response.access_token().secret().clone(),
            expires_at,
            refresh_token: response.refresh_token().map(|t| t.secret().clone()),
            id_token: response.extra_fields().id_token.clone(),
        })
    }

    /// Whether the client can learn who logged in: an OpenID Connect or GitHub client always
    /// can, a generic one once [`userinfo`](Self::userinfo) gave it an endpoint.
    pub(crate) fn check_ready(&self) -> Result<(), OAuthClientError> {
        match &self.identity {
            IdentitySource::UserInfo { url, .. } if url.is_empty() => {
                Err(OAuthClientError::Config(format!(
                    "the OAuth client `{}` has no user-info endpoint: call .userinfo(url, \
                     id_field, email_field) (or use OAuthClient::discover for OpenID Connect)",
                    self.name
                )))
            }
            _ => Ok(()),
        }
    }

    /// Who the tokens belong to.
    pub(crate) async fn identity(
        &self,
        tokens: &ProviderTokens,
    ) -> Result<Identity, OAuthClientError> {
        // The routers refuse such a client when they are built; a direct caller gets the same
        // error here.
        self.check_ready()?;
        let mut identity = match &self.identity {
            IdentitySource::OpenId(openid) => {
                let id_token = tokens.id_token.as_deref().ok_or_else(|| {
                    OAuthClientError::InvalidIdToken("the token response has no id_token".into())
                })?;
                self.check_id_token(openid, id_token).await?
            }
            IdentitySource::UserInfo {
                url,
                id_field,
                email_field,
                verified_field,
            } => {
                let info = get_json(&self.http, url, Some(&tokens.access_token)).await?;
                Identity {
                    account_id: account_id(&info[id_field.as_str()]).ok_or_else(|| {
                        OAuthClientError::Unavailable(format!("the user info has no {id_field}"))
                    })?,
                    email: info[email_field.as_str()].as_str().map(str::to_owned),
                    email_verified: verified_field
                        .as_ref()
                        .is_some_and(|f| info[f.as_str()] == Value::Bool(true)),
                }
            }
            IdentitySource::GitHub { api } => {
                let token = Some(tokens.access_token.as_str());
                let user = get_json(&self.http, &format!("{api}/user"), token).await?;
                let emails = get_json(&self.http, &format!("{api}/user/emails"), token).await?;
                github_identity(&user, &emails).ok_or_else(|| {
                    OAuthClientError::Unavailable("the GitHub user has no id".into())
                })?
            }
        };
        identity.email_verified |= self.trust_email && identity.email.is_some();
        Ok(identity)
    }

    async fn check_id_token(
        &self,
        openid: &OpenId,
        id_token: &str,
    ) -> Result<Identity, OAuthClientError> {
        use jsonwebtoken::Algorithm::*;
        let invalid = |why: String| OAuthClientError::InvalidIdToken(why);
        let header = jsonwebtoken::decode_header(id_token).map_err(|e| invalid(e.to_string()))?;
        // Only the provider's asymmetric keys: never `none`, never a shared secret.
        if !matches!(
            header.alg,
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 | ES256 | ES384 | EdDSA
        ) {
            return Err(invalid(format!(
                "algorithm {:?} is not allowed",
                header.alg
            )));
        }
        let jwk = self.signing_key(openid, header.kid.as_deref()).await?;
        if let Some(alg) = &jwk.common.key_algorithm
            && alg.to_string() != format!("{:?}", header.alg)
        {
            return Err(invalid(format!(
                "the key is for {alg}, the token says {:?}",
                header.alg
            )));
        }
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| invalid(e.to_string()))?;
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&[&self.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 60;
        if let Issuer::Exact(issuer) = &openid.issuer {
            validation.set_issuer(&[issuer]);
        }
        let claims: Value = jsonwebtoken::decode(id_token, &key, &validation)
            .map_err(|e| invalid(e.to_string()))?
            .claims;
        if let Issuer::MicrosoftAnyTenant = &openid.issuer {
            let tid = claims["tid"].as_str().unwrap_or_default();
            let expected = format!("https://login.microsoftonline.com/{tid}/v2.0");
            if tid.is_empty() || claims["iss"] != Value::String(expected) {
                return Err(invalid("the issuer is not the user's tenant".into()));
            }
        }
        Ok(Identity {
            account_id: account_id(&claims["sub"])
                .ok_or_else(|| invalid("the ID token has no sub".into()))?,
            email: claims["email"].as_str().map(str::to_owned),
            email_verified: claims["email_verified"] == Value::Bool(true)
                || claims["email_verified"] == Value::String("true".into()),
        })
    }

    /// The provider's key with this `kid`, fetching the key set when it is not known yet (a
    /// provider rotates its keys), at most once per [`JWKS_REFRESH`].
    async fn signing_key(
        &self,
        openid: &OpenId,
        kid: Option<&str>,
    ) -> Result<jsonwebtoken::jwk::Jwk, OAuthClientError> {
        let find = |set: &JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        if let Some((set, _)) = &*openid.keys.read().await
            && let Some(key) = find(set)
        {
            return Ok(key);
        }
        let mut cached = openid.keys.write().await;
        let stale = cached
            .as_ref()
            .is_none_or(|(_, fetched)| fetched.elapsed() >= JWKS_REFRESH);
        if stale {
            let document = get_json(&self.http, &openid.jwks_uri, None).await?;
            let set: JwkSet = serde_json::from_value(document)
                .map_err(|e| OAuthClientError::Unavailable(format!("unreadable key set: {e}")))?;
            *cached = Some((set, Instant::now()));
        }
        cached
            .as_ref()
            .and_then(|(set, _)| find(set))
            .ok_or_else(|| {
                OAuthClientError::InvalidIdToken(format!(
                    "no key {:?} among the provider's keys",
                    kid.unwrap_or("(none)")
                ))
            })
    }
}

/// GitHub's identity: the id of `/user`, and the primary address of `/user/emails` when it is
/// verified (the profile's `email` is the public one, often hidden, and not necessarily
/// verified).
fn github_identity(user: &Value, emails: &Value) -> Option<Identity> {
    let primary = emails.as_array().and_then(|list| {
        list.iter()
            .find(|e| e["primary"] == Value::Bool(true))
            .filter(|e| e["verified"] == Value::Bool(true))
    });
    Some(Identity {
        account_id: account_id(&user["id"])?,
        email: primary.and_then(|e| e["email"].as_str().map(str::to_owned)),
        email_verified: primary.is_some(),
    })
}

/// An account id: providers give strings (`sub`) or numbers (GitHub's `id`).
fn account_id(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// GETs a JSON document, with a bearer token if given.
async fn get_json(
    http: &oauth2::reqwest::Client,
    url: &str,
    bearer: Option<&str>,
) -> Result<Value, OAuthClientError> {
    let unavailable = |e: String| OAuthClientError::Unavailable(format!("{url}: {e}"));
    let mut request = http.get(url).header("Accept", "application/json");
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if !status.is_success() {
        return Err(unavailable(format!("status {status}")));
    }
    serde_json::from_slice(&body).map_err(|e| unavailable(format!("not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A generic client without a user-info endpoint cannot tell who logged in: refused
    /// (the routers panic at start-up with this message); with one, or as a preset, ready.
    #[test]
    fn a_generic_client_needs_a_userinfo_endpoint() {
        let bare = || {
            OAuthClient::new(
                "acme",
                "id",
                "secret",
                "https://sso.acme.example/authorize",
                "https://sso.acme.example/token",
            )
            .unwrap()
        };
        let error = bare().check_ready().unwrap_err().to_string();
        assert!(
            error.contains("`acme` has no user-info endpoint"),
            "{error}"
        );
        bare()
            .userinfo("https://sso.acme.example/userinfo", "id", "email")
            .check_ready()
            .unwrap();
        OAuthClient::github("id", "secret").check_ready().unwrap();
    }

    #[test]
    fn github_uses_the_primary_verified_email() {
        let user = json!({"id": 583231, "login": "octocat", "email": null});
        let emails = json!([
            {"email": "octo@public.example", "primary": false, "verified": true},
            {"email": "octocat@github.example", "primary": true, "verified": true},
        ]);
        assert_eq!(
            github_identity(&user, &emails),
            Some(Identity {
                account_id: "583231".into(),
                email: Some("octocat@github.example".into()),
                email_verified: true,
            })
        );
        let unverified = json!([{"email": "o@x.example", "primary": true, "verified": false}]);
        let identity = github_identity(&user, &unverified).unwrap();
        assert_eq!((identity.email, identity.email_verified), (None, false));
        assert_eq!(github_identity(&json!({}), &emails), None);
    }

    #[test]
    fn presets_ask_for_their_scopes_with_pkce() {
        let google = OAuthClient::google("id", "secret");
        let verifier = PkceCodeVerifier::new("v".repeat(43));
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let url = google
            .authorization_url("https://api.example/cb", "st".into(), challenge, &[])
            .unwrap();
        assert!(
            url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"),
            "{url}"
        );
        assert!(url.contains("scope=openid+email+profile"), "{url}");
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        assert!(
            url.contains("redirect_uri=https%3A%2F%2Fapi.example%2Fcb"),
            "{url}"
        );
        let github = OAuthClient::github("id", "secret");
        let verifier = PkceCodeVerifier::new("v".repeat(43));
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let url = github
            .authorization_url("https://api.example/cb", "st".into(), challenge, &[])
            .unwrap();
        assert!(url.contains("scope=read%3Auser+user%3Aemail"), "{url}");
        let microsoft = OAuthClient::microsoft("common", "id", "secret");
        assert!(matches!(
            &microsoft.identity,
            IdentitySource::OpenId(o) if matches!(o.issuer, Issuer::MicrosoftAnyTenant)
        ));
    }
}
