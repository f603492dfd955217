//! [`OAuthClient`]: one OAuth2 or OpenID Connect provider. The code exchange is the `oauth2`
//! crate's; OpenID Connect discovery, signing keys and ID-token validation are the
//! `openidconnect` crate's. What is left here is the choice of provider, the key cache's
//! refresh policy and the multi-tenant issuer.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    HttpClientError, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, ClaimsVerificationError, DiscoveryError, IdToken, IdTokenClaims,
    IdTokenVerifier, IssuerUrl, JsonWebKeySet, JsonWebKeySetUrl, Nonce, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::RwLock;

/// The `id_token` that OpenID Connect adds to the token response, kept as it came: it is
/// parsed only by a client that expects one, so that a malformed one is an invalid ID token
/// (a 400), not an unreadable token response.
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

/// The error of the HTTP client that talks to providers.
pub type HttpError = HttpClientError<oauth2::reqwest::Error>;

/// The claims read beyond the standard ones: the tenant (`tid`) of multi-tenant issuers.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct TenantClaim {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
}

impl AdditionalClaims for TenantClaim {}

type ProviderIdToken = IdToken<
    TenantClaim,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
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
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthClientError {
    /// The provider refused the code with an OAuth error (`invalid_grant` for a bad or used
    /// code).
    #[error("the provider refused the code: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// The OAuth error code, e.g. `invalid_grant`.
        code: String,
        /// The provider's `error_description`, if any.
        description: Option<String>,
    },
    /// The token request failed: the provider could not be reached, or its answer was not a
    /// token response.
    #[error("the token request to {url} failed")]
    TokenRequest {
        /// The token endpoint.
        url: String,
        /// What went wrong.
        #[source]
        source: RequestTokenError<HttpError, BasicErrorResponse>,
    },
    /// A GET of a provider endpoint (user info, GitHub's API) failed to connect or to read.
    #[error("GET {url} failed")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: oauth2::reqwest::Error,
    },
    /// A provider endpoint answered with an error status.
    #[error("GET {url} answered {status}")]
    Status {
        /// The endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// A provider endpoint answered something that is not JSON.
    #[error("GET {url} answered something that is not JSON")]
    NotJson {
        /// The endpoint.
        url: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A provider's answer lacks a field fastusers needs (the user's id).
    #[error("{url} has no `{field}`")]
    MissingField {
        /// The endpoint.
        url: String,
        /// The field.
        field: String,
    },
    /// OpenID Connect discovery failed: the provider could not be reached, its discovery
    /// document is unreadable, or it names another issuer.
    #[error("OpenID Connect discovery of {issuer} failed")]
    Discovery {
        /// The issuer asked for.
        issuer: String,
        /// What went wrong.
        #[source]
        source: DiscoveryError<HttpError>,
    },
    /// The provider's signing keys (JWKS) could not be fetched.
    #[error("fetching the signing keys at {url} failed")]
    Keys {
        /// The JWKS endpoint.
        url: String,
        /// What went wrong.
        #[source]
        source: DiscoveryError<HttpError>,
    },
    /// The ID token is not valid.
    #[error("invalid ID token")]
    InvalidIdToken(#[source] InvalidIdToken),
    /// A URL of the client's configuration is not valid.
    #[error("invalid URL in the OAuth client's configuration: {url}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// The parser's error.
        #[source]
        source: url::ParseError,
    },
    /// A generic client without a user-info endpoint cannot tell who logged in.
    #[error(
        "the OAuth client `{client}` has no user-info endpoint: call .userinfo(url, id_field, \
         email_field), or .id_token(issuer, jwks_url) for OpenID Connect (or use \
         OAuthClient::discover)"
    )]
    NoIdentitySource {
        /// The client's name.
        client: String,
    },
}

/// Why an ID token was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidIdToken {
    /// The token response of an OpenID Connect provider has no `id_token`.
    #[error("the token response has no id_token")]
    Missing,
    /// Not a JWT, or its claims are not an ID token's.
    #[error("the ID token is malformed")]
    Malformed(#[source] serde_json::Error),
    /// Its signature, algorithm, key, issuer, audience, expiry or nonce is wrong.
    #[error("the ID token's claims or signature are not valid")]
    Verification(#[source] ClaimsVerificationError),
    /// A multi-tenant issuer: the `iss` is not the issuer of the token's own tenant (`tid`).
    #[error("the issuer {issuer} is not the one of the token's tenant {tenant:?}")]
    WrongTenant {
        /// The token's `iss`.
        issuer: String,
        /// The token's `tid`, if any.
        tenant: Option<String>,
    },
    /// The `sub` is empty.
    #[error("the ID token's subject is empty")]
    EmptySubject,
}

impl From<InvalidIdToken> for OAuthClientError {
    fn from(error: InvalidIdToken) -> Self {
        Self::InvalidIdToken(error)
    }
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
    /// Not said yet (a client made with [`OAuthClient::new`]).
    Unknown,
}

/// An OpenID Connect provider's issuer and signing keys.
#[derive(Debug)]
struct OpenId {
    issuer: Issuer,
    jwks_url: JsonWebKeySetUrl,
    keys: RwLock<KeyCache>,
}

#[derive(Debug, Default)]
struct KeyCache {
    set: CoreJsonWebKeySet,
    /// When `set` was fetched; `None` before the first fetch.
    fetched: Option<Instant>,
}

#[derive(Debug, Clone)]
enum Issuer {
    Exact(IssuerUrl),
    /// A multi-tenant issuer such as Microsoft's
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`: `{tenantid}` stands for the
    /// token's `tid` claim.
    Tenant(String),
}

/// The placeholder of multi-tenant issuers.
const TENANT: &str = "{tenantid}";

impl Issuer {
    fn new(issuer: &str) -> Result<Self, OAuthClientError> {
        if issuer.contains(TENANT) {
            Ok(Self::Tenant(issuer.to_owned()))
        } else {
            IssuerUrl::new(issuer.to_owned())
                .map(Self::Exact)
                .map_err(|source| invalid_url(issuer, source))
        }
    }
}

/// One OAuth2 or OpenID Connect provider: its endpoints, the application's credentials, the
/// scopes to ask for, and how to learn who the user is. Every flow uses PKCE (S256); OpenID
/// Connect flows also send a nonce that the ID token must carry back.
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
    token_url: String,
    inner: Inner,
    scopes: Vec<String>,
    identity: IdentitySource,
    trust_email: bool,
    jwks_refresh: Duration,
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

fn invalid_url(url: &str, source: url::ParseError) -> OAuthClientError {
    OAuthClientError::InvalidUrl {
        url: url.to_owned(),
        source,
    }
}

/// The default of [`OAuthClient::jwks_refresh_interval`].
const JWKS_REFRESH: Duration = Duration::from_secs(30);

/// How far past its `exp` an ID token is still taken: the provider's clock and ours differ.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The signature algorithms of providers' keys. Never `none`, never a shared secret (HS*).
const ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

impl OAuthClient {
    /// A generic OAuth2 provider. Say how to learn the user's identity with
    /// [`userinfo`](Self::userinfo) or [`id_token`](Self::id_token): a client that cannot tell
    /// who logged in is refused by the OAuth routers when they are built. (For an OpenID
    /// Connect provider with a discovery document, use [`discover`](Self::discover).)
    pub fn new(
        name: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        authorize_url: &str,
        token_url: &str,
    ) -> Result<Self, OAuthClientError> {
        let client_id = client_id.into();
        let inner = oauth2::Client::new(ClientId::new(client_id.clone()))
            .set_client_secret(ClientSecret::new(client_secret.into()))
            .set_auth_uri(
                AuthUrl::new(authorize_url.to_owned())
                    .map_err(|e| invalid_url(authorize_url, e))?,
            )
            .set_token_uri(
                TokenUrl::new(token_url.to_owned()).map_err(|e| invalid_url(token_url, e))?,
            );
        Ok(Self {
            name: name.into(),
            client_id,
            token_url: token_url.to_owned(),
            inner,
            scopes: Vec::new(),
            identity: IdentitySource::Unknown,
            trust_email: false,
            jwks_refresh: JWKS_REFRESH,
            http: http_client(),
        })
    }

    /// An OpenID Connect provider, found by discovery: fetches
    /// `{issuer}/.well-known/openid-configuration` for its endpoints, then its signing keys.
    /// ID tokens are checked against those keys, the issuer and the client id. The issuer is
    /// the one the provider names (a trailing `/` more or less is forgiven).
    pub async fn discover(
        name: impl Into<String>,
        issuer: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Result<Self, OAuthClientError> {
        let http = http_client();
        let metadata = match fetch_metadata(&http, issuer).await {
            Err(OAuthClientError::Discovery {
                source: DiscoveryError::Validation(_),
                ..
            }) => {
                // The provider names itself with or without the trailing slash given here.
                let other = match issuer.strip_suffix('/') {
                    Some(bare) => bare.to_owned(),
                    None => format!("{issuer}/"),
                };
                fetch_metadata(&http, &other).await
            }
            other => other,
        }?;
        let token_url =
            metadata
                .token_endpoint()
                .ok_or_else(|| OAuthClientError::MissingField {
                    url: issuer.to_owned(),
                    field: "token_endpoint".to_owned(),
                })?;
        let mut client = Self::new(
            name,
            client_id,
            client_secret,
            metadata.authorization_endpoint().as_str(),
            token_url.as_str(),
        )?
        .scopes(["openid", "email", "profile"]);
        client.http = http;
        client.identity = IdentitySource::OpenId(Arc::new(OpenId {
            issuer: Issuer::Exact(metadata.issuer().clone()),
            jwks_url: metadata.jwks_uri().clone(),
            keys: RwLock::new(KeyCache {
                set: metadata.jwks().clone(),
                fetched: Some(Instant::now()),
            }),
        }));
        Ok(client)
    }

    /// Learns the identity from the OpenID Connect ID token, checked against the signing keys
    /// at `jwks_url`, this issuer and the client id, for a provider configured by hand
    /// rather than by [`discover`](Self::discover). `issuer` may contain `{tenantid}`, for a
    /// multi-tenant provider whose tokens name the user's tenant (`tid`): the token's `iss`
    /// must then be `issuer` with the token's own `tid` in place of `{tenantid}`. Asks for the
    /// scopes `openid email profile` unless others were set.
    ///
    /// ```
    /// use fastusers::oauth::OAuthClient;
    ///
    /// let acme = OAuthClient::new(
    ///     "acme",
    ///     "client-id",
    ///     "client-secret",
    ///     "https://sso.acme.example/authorize",
    ///     "https://sso.acme.example/token",
    /// )?
    /// .id_token("https://sso.acme.example/{tenantid}", "https://sso.acme.example/keys")?;
    /// # Ok::<(), fastusers::oauth::OAuthClientError>(())
    /// ```
    pub fn id_token(mut self, issuer: &str, jwks_url: &str) -> Result<Self, OAuthClientError> {
        self.identity = IdentitySource::OpenId(Arc::new(OpenId {
            issuer: Issuer::new(issuer)?,
            jwks_url: JsonWebKeySetUrl::new(jwks_url.to_owned())
                .map_err(|e| invalid_url(jwks_url, e))?,
            keys: RwLock::new(KeyCache::default()),
        }));
        if self.scopes.is_empty() {
            self = self.scopes(["openid", "email", "profile"]);
        }
        Ok(self)
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
        .and_then(|c| {
            c.id_token(
                "https://accounts.google.com",
                "https://www.googleapis.com/oauth2/v3/certs",
            )
        })
        .expect("valid URLs")
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
    /// `common`, `organizations` or `consumers` for multi-tenant applications (whose ID tokens
    /// must then come from the issuer of their own tenant, `tid`).
    pub fn microsoft(
        tenant: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        let base = format!("https://login.microsoftonline.com/{tenant}");
        let issuer = match tenant {
            "common" | "organizations" | "consumers" => {
                format!("https://login.microsoftonline.com/{TENANT}/v2.0")
            }
            _ => format!("{base}/v2.0"),
        };
        Self::new(
            "microsoft",
            client_id,
            client_secret,
            &format!("{base}/oauth2/v2.0/authorize"),
            &format!("{base}/oauth2/v2.0/token"),
        )
        .and_then(|c| c.id_token(&issuer, &format!("{base}/discovery/v2.0/keys")))
        .expect("valid URLs")
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

    /// The shortest time between two fetches of an OpenID Connect provider's signing keys.
    /// An ID token naming a key the client does not know (the provider rotated its keys)
    /// fetches them again, at most this often; until then such tokens are refused. Default:
    /// 30 seconds.
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.jwks_refresh = interval;
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

    /// The URL to send the browser to, with the state, the PKCE challenge, the scopes, and
    /// for OpenID Connect the nonce.
    pub(crate) fn authorization_url(
        &self,
        redirect_uri: &str,
        state: String,
        challenge: PkceCodeChallenge,
        nonce: &Nonce,
        scopes: &[String],
    ) -> Result<String, OAuthClientError> {
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| invalid_url(redirect_uri, e))?;
        let scopes = if scopes.is_empty() {
            &self.scopes
        } else {
            scopes
        };
        let mut request = self
            .inner
            .authorize_url(|| CsrfToken::new(state))
            .set_redirect_uri(Cow::Owned(redirect))
            .set_pkce_challenge(challenge)
            .add_scopes(scopes.iter().cloned().map(Scope::new));
        if let IdentitySource::OpenId(_) = self.identity {
            request = request.add_extra_param("nonce", nonce.secret().clone());
        }
        Ok(request.url().0.to_string())
    }

    /// Exchanges the authorization code for tokens.
    pub(crate) async fn exchange(
        &self,
        code: String,
        redirect_uri: &str,
        verifier: PkceCodeVerifier,
    ) -> Result<ProviderTokens, OAuthClientError> {
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| invalid_url(redirect_uri, e))?;
        let response = self
            .inner
            .exchange_code(AuthorizationCode::new(code))
            .set_redirect_uri(Cow::Owned(redirect))
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => OAuthClientError::Refused {
                    code: r.error().as_ref().to_owned(),
                    description: r.error_description().cloned(),
                },
                source => OAuthClientError::TokenRequest {
                    url: self.token_url.clone(),
                    source,
                },
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
    /// can, a generic one once [`userinfo`](Self::userinfo) or [`id_token`](Self::id_token)
    /// said how.
    pub(crate) fn check_ready(&self) -> Result<(), OAuthClientError> {
        match &self.identity {
            IdentitySource::Unknown => Err(OAuthClientError::NoIdentitySource {
                client: self.name.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Who the tokens belong to. An ID token must carry `nonce`, the one the authorization
    /// URL sent.
    pub(crate) async fn identity(
        &self,
        tokens: &ProviderTokens,
        nonce: &Nonce,
    ) -> Result<Identity, OAuthClientError> {
        let mut identity = match &self.identity {
            IdentitySource::OpenId(openid) => {
                let id_token = tokens.id_token.as_deref().ok_or(InvalidIdToken::Missing)?;
                self.check_id_token(openid, id_token, nonce).await?
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
                        OAuthClientError::MissingField {
                            url: url.clone(),
                            field: id_field.clone(),
                        }
                    })?,
                    email: info[email_field.as_str()].as_str().map(str::to_owned),
                    email_verified: verified_field
                        .as_ref()
                        .is_some_and(|f| info[f.as_str()] == Value::Bool(true)),
                }
            }
            IdentitySource::GitHub { api } => {
                let token = Some(tokens.access_token.as_str());
                let url = format!("{api}/user");
                let user = get_json(&self.http, &url, token).await?;
                let emails = get_json(&self.http, &format!("{api}/user/emails"), token).await?;
                github_identity(&user, &emails).ok_or_else(|| OAuthClientError::MissingField {
                    url,
                    field: "id".to_owned(),
                })?
            }
            // The routers refuse such a client when they are built; a direct caller gets the
            // same error here.
            IdentitySource::Unknown => return Err(self.check_ready().unwrap_err()),
        };
        identity.email_verified |= self.trust_email && identity.email.is_some();
        Ok(identity)
    }

    /// The identity in an ID token, once `openidconnect` has checked it against the
    /// provider's keys (fetched again, at most every [`jwks_refresh_interval`], when the
    /// token names a key not known yet), the issuer, the client id, the expiry and the nonce.
    ///
    /// [`jwks_refresh_interval`]: Self::jwks_refresh_interval
    async fn check_id_token(
        &self,
        openid: &OpenId,
        id_token: &str,
        nonce: &Nonce,
    ) -> Result<Identity, OAuthClientError> {
        let token: ProviderIdToken = id_token.parse().map_err(InvalidIdToken::Malformed)?;
        let (keys, fetched) = {
            let cache = openid.keys.read().await;
            (cache.set.clone(), cache.fetched)
        };
        let claims = match self.verify(openid, &token, keys, nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => match self.refresh_keys(openid, fetched).await? {
                Some(keys) => self.verify(openid, &token, keys, nonce),
                None => Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                )),
            },
            verified => verified,
        }
        .map_err(InvalidIdToken::Verification)?;
        if let Issuer::Tenant(template) = &openid.issuer {
            let tenant = claims.additional_claims().tid.as_deref();
            let issuer = claims.issuer().as_str();
            if tenant.is_none_or(|t| t.is_empty() || template.replace(TENANT, t) != issuer) {
                return Err(InvalidIdToken::WrongTenant {
                    issuer: issuer.to_owned(),
                    tenant: tenant.map(str::to_owned),
                }
                .into());
            }
        }
        let subject = claims.subject().as_str();
        if subject.is_empty() {
            return Err(InvalidIdToken::EmptySubject.into());
        }
        Ok(Identity {
            account_id: subject.to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified() == Some(true),
        })
    }

    fn verify(
        &self,
        openid: &OpenId,
        token: &ProviderIdToken,
        keys: CoreJsonWebKeySet,
        nonce: &Nonce,
    ) -> Result<IdTokenClaims<TenantClaim, CoreGenderClaim>, ClaimsVerificationError> {
        let (issuer, exact) = match &openid.issuer {
            Issuer::Exact(issuer) => (issuer.clone(), true),
            // Checked against the token's tenant once the signature is.
            Issuer::Tenant(_) => (
                IssuerUrl::new("https://tenant.invalid".to_owned()).expect("a valid URL"),
                false,
            ),
        };
        // A public client's verifier: no client secret, so no HS* token can pass.
        let verifier: IdTokenVerifier<'_, CoreJsonWebKey> =
            IdTokenVerifier::new_public_client(ClientId::new(self.client_id.clone()), issuer, keys)
                .require_issuer_match(exact)
                .set_allowed_algs(ALGORITHMS)
                .set_time_fn(|| chrono::Utc::now() - CLOCK_SKEW);
        token.claims(&verifier, nonce).cloned()
    }

    /// Fetches the provider's keys again, unless they were fetched less than
    /// [`jwks_refresh_interval`](Self::jwks_refresh_interval) ago. `seen` is when the keys the
    /// caller tried were fetched: if another request has fetched them since, those are
    /// returned without fetching. `None`: too soon, the keys are what they were.
    async fn refresh_keys(
        &self,
        openid: &OpenId,
        seen: Option<Instant>,
    ) -> Result<Option<CoreJsonWebKeySet>, OAuthClientError> {
        let mut cache = openid.keys.write().await;
        if cache.fetched != seen {
            return Ok(Some(cache.set.clone()));
        }
        if cache
            .fetched
            .is_some_and(|at| at.elapsed() < self.jwks_refresh)
        {
            return Ok(None);
        }
        let set = JsonWebKeySet::fetch_async(&openid.jwks_url, &self.http)
            .await
            .map_err(|source| OAuthClientError::Keys {
                url: openid.jwks_url.to_string(),
                source,
            })?;
        *cache = KeyCache {
            set: set.clone(),
            fetched: Some(Instant::now()),
        };
        Ok(Some(set))
    }
}

/// The discovery document (and keys) of `issuer`, which must name itself exactly so.
async fn fetch_metadata(
    http: &oauth2::reqwest::Client,
    issuer: &str,
) -> Result<CoreProviderMetadata, OAuthClientError> {
    let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| invalid_url(issuer, e))?;
    CoreProviderMetadata::discover_async(url, http)
        .await
        .map_err(|source| OAuthClientError::Discovery {
            issuer: issuer.to_owned(),
            source,
        })
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
    let unreachable = |source| OAuthClientError::Unreachable {
        url: url.to_owned(),
        source,
    };
    let mut request = http.get(url).header("Accept", "application/json");
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(unreachable)?;
    if !status.is_success() {
        return Err(OAuthClientError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    serde_json::from_slice(&body).map_err(|source| OAuthClientError::NotJson {
        url: url.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A generic client that was not told how to learn the identity cannot tell who logged
    /// in: refused (the routers panic at start-up with this message); with a user-info
    /// endpoint or an ID token, or as a preset, ready.
    #[test]
    fn a_generic_client_needs_an_identity_source() {
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
        let openid = bare()
            .id_token("https://sso.acme.example", "https://sso.acme.example/keys")
            .unwrap();
        openid.check_ready().unwrap();
        assert_eq!(openid.scopes, ["openid", "email", "profile"]);
        OAuthClient::github("id", "secret").check_ready().unwrap();
        assert!(matches!(
            bare().id_token("not a url", "https://sso.acme.example/keys"),
            Err(OAuthClientError::InvalidUrl { .. })
        ));
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

    fn url_of(client: &OAuthClient) -> String {
        let verifier = PkceCodeVerifier::new("v".repeat(43));
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let nonce = Nonce::new("the-nonce".into());
        client
            .authorization_url(
                "https://api.example/cb",
                "st".into(),
                challenge,
                &nonce,
                &[],
            )
            .unwrap()
    }

    #[test]
    fn presets_ask_for_their_scopes_with_pkce() {
        let url = url_of(&OAuthClient::google("id", "secret"));
        assert!(
            url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"),
            "{url}"
        );
        assert!(url.contains("scope=openid+email+profile"), "{url}");
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        assert!(url.contains("nonce=the-nonce"), "{url}");
        assert!(
            url.contains("redirect_uri=https%3A%2F%2Fapi.example%2Fcb"),
            "{url}"
        );
        let url = url_of(&OAuthClient::github("id", "secret"));
        assert!(url.contains("scope=read%3Auser+user%3Aemail"), "{url}");
        assert!(!url.contains("nonce="), "not OpenID Connect: {url}");
        let tenant = |client: &OAuthClient| match &client.identity {
            IdentitySource::OpenId(o) => match &o.issuer {
                Issuer::Tenant(template) => Some(template.clone()),
                Issuer::Exact(_) => None,
            },
            _ => panic!("Microsoft is OpenID Connect"),
        };
        assert_eq!(
            tenant(&OAuthClient::microsoft("common", "id", "secret")).as_deref(),
            Some("https://login.microsoftonline.com/{tenantid}/v2.0")
        );
        assert_eq!(
            tenant(&OAuthClient::microsoft("contoso.example", "id", "secret")),
            None
        );
    }
}
