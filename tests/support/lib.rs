//! Test support: the application under test, a fresh database per test on SQLite or
//! PostgreSQL, and an HTTP client that drives the router in-process.
//!
//! PostgreSQL tests need `FASTUSERS_TEST_POSTGRES_URL`, which `scripts/test` sets after starting
//! a real server; without it they fail (never skip) with a message saying so.

pub mod oauth;
pub mod redis;
pub mod smtp;

/// A free TCP port on 127.0.0.1 (for a server a test starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::routing::get;
use fastusers::password::Argon2Params;
use fastusers::prelude::*;
use fastusers::strategy::{DatabaseStrategy, RedisStrategy};
use fastusers::{InvalidPassword, PasswordOwner};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The model under test: the base fields, custom fields of each kind, and OAuth accounts.
#[derive(User, Clone, Debug)]
#[fastusers(oauth)]
pub struct User {
    /// Primary key.
    pub id: uuid::Uuid,
    /// Email.
    pub email: String,
    /// Hash.
    pub hashed_password: String,
    /// Active.
    pub is_active: bool,
    /// Superuser.
    pub is_superuser: bool,
    /// Verified.
    pub is_verified: bool,
    /// Settable at registration and by the user.
    #[fastusers(create, update)]
    pub first_name: Option<String>,
    /// Settable by a superuser only.
    pub plan: Option<String>,
    /// Never shown.
    #[fastusers(hidden)]
    pub notes: Option<String>,
    /// Shown, never set through the API.
    #[fastusers(read_only)]
    pub login_count: i64,
    /// Fields of other types, for the 422 of each type's mismatch (tests/http/register.rs).
    #[fastusers(create, update)]
    pub age: Option<i16>,
    /// A number.
    #[fastusers(create, update)]
    pub height: Option<f64>,
    /// A UUID.
    #[fastusers(create, update)]
    pub team_id: Option<uuid::Uuid>,
    /// A boolean that is not nullable: false at registration, then the user's to change.
    #[fastusers(update)]
    pub newsletter: bool,
}

fastusers::auth_backends! {
    /// Every transport with every strategy.
    pub struct Auth for User {
        jwt: BearerTransport, JwtStrategy;
        cookie: CookieTransport, JwtStrategy;
        redis: BearerTransport, Option<RedisStrategy>;
        rediscookie: CookieTransport, Option<RedisStrategy>;
        database: BearerTransport, DatabaseStrategy<User>;
        session: CookieTransport, DatabaseStrategy<User>;
        refresh: BearerTransport, JwtStrategy, refresh;
        refreshcookie: CookieTransport, JwtStrategy, refresh;
    }
}

/// The clock of the refresh tokens of a [`TestApp`]: the real time plus an offset the test
/// moves, so that tokens expire without waiting.
#[derive(Debug, Clone, Default)]
pub struct TestClock(Arc<std::sync::atomic::AtomicI64>);

impl TestClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        self.0
            .fetch_add(by.as_micros() as i64, std::sync::atomic::Ordering::SeqCst);
    }

    /// The time now, by this clock.
    pub fn now(&self) -> fastusers::revocation::Timestamp {
        fastusers::revocation::now()
            + chrono::Duration::microseconds(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// The URL of the test Redis server (`scripts/test` starts one).
pub fn redis_url() -> String {
    std::env::var("FASTUSERS_TEST_REDIS_URL")
        .expect("FASTUSERS_TEST_REDIS_URL is not set: Redis tests need a real server; run them with scripts/test")
}

/// How long any request of a test may take before the test fails: far more than the slowest
/// route needs (a few hashes), far less than CI's limit.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The secret of the access tokens in the tests.
pub const SECRET: &str = "SECRET of the access tokens in the tests";

/// The secret of the access tokens of the backends with refresh tokens.
pub const REFRESH_SECRET: &str = "SECRET of the refresh backends' access tokens";

/// The quickstart's password policy (the manager of [`TestApp`] has no
/// [`PasswordPolicy`](fastusers::password::PasswordPolicy) of its own, unless
/// [`Options::password_policy`] gives one).
#[derive(Debug, Clone, Default)]
pub struct TestHooks {
    /// Every token the hooks were given: `(kind, email, token)`, kind `verify` or `reset`.
    pub outbox: Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
    /// Every failed login the hooks saw: `(email, throttled)`.
    pub failed_logins: Arc<std::sync::Mutex<Vec<(String, bool)>>>,
    /// Emails whose logins `on_before_login` refuses with a 403.
    pub banned: Arc<std::sync::Mutex<Vec<String>>>,
    /// The email of the user of every refresh-token reuse `on_refresh_token_reuse` saw.
    pub refresh_reuses: Arc<std::sync::Mutex<Vec<String>>>,
    /// Every security event `on_security_event` saw: `(kind, the user's email)`.
    pub security_events: Arc<std::sync::Mutex<Vec<(String, String)>>>,
    /// Whether `on_security_event` answers `Notify::Handled` (no email) instead of
    /// `Notify::Email`.
    pub handle_notices: Arc<std::sync::atomic::AtomicBool>,
}

impl TestHooks {
    fn record(&self, kind: &str, user: &User, token: &str) {
        self.outbox
            .lock()
            .unwrap()
            .push((kind.to_owned(), user.email.clone(), token.to_owned()));
    }
}

#[fastusers::async_trait]
impl Hooks<User> for TestHooks {
    async fn validate_password(
        &self,
        password: &str,
        owner: PasswordOwner<'_, User>,
    ) -> Result<(), InvalidPassword> {
        if password.chars().count() < 8 {
            return Err(InvalidPassword::new(
                "Password should be at least 8 characters",
            ));
        }
        if password.contains(owner.email()) {
            return Err(InvalidPassword::new("Password should not contain e-mail"));
        }
        Ok(())
    }

    async fn on_after_request_verify(
        &self,
        user: &User,
        token: &str,
        _request: fastusers::RequestInfo<'_>,
    ) {
        self.record("verify", user, token);
    }

    async fn on_before_login(
        &self,
        user: &User,
        _request: fastusers::RequestInfo<'_>,
    ) -> Result<(), ApiError> {
        if self.banned.lock().unwrap().contains(&user.email) {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "USER_BANNED"));
        }
        Ok(())
    }

    async fn on_after_failed_login(
        &self,
        email: &str,
        throttled: bool,
        _request: fastusers::RequestInfo<'_>,
    ) {
        self.failed_logins
            .lock()
            .unwrap()
            .push((email.to_owned(), throttled));
    }

    async fn on_after_forgot_password(
        &self,
        user: &User,
        token: &str,
        _request: fastusers::RequestInfo<'_>,
    ) {
        self.record("reset", user, token);
    }

    async fn on_refresh_token_reuse(&self, user: &User, _request: fastusers::RequestInfo<'_>) {
        self.refresh_reuses
            .lock()
            .expect("not poisoned")
            .push(user.email.clone());
    }

    async fn on_security_event(
        &self,
        user: &User,
        event: &fastusers::mail::SecurityEvent,
        _request: fastusers::RequestInfo<'_>,
    ) -> fastusers::mail::Notify {
        self.security_events
            .lock()
            .unwrap()
            .push((event.kind().to_owned(), user.email.clone()));
        if self
            .handle_notices
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            fastusers::mail::Notify::Handled
        } else {
            fastusers::mail::Notify::Email
        }
    }
}

/// The secret of verification tokens in the tests.
pub const VERIFY_SECRET: &str = "VERIFY, the verification secret of the tests";
/// The secret of reset tokens in the tests.
pub const RESET_SECRET: &str = "RESET, the reset-password secret of the tests";

/// Which real database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// An in-memory SQLite database of its own.
    Sqlite,
    /// A fresh database on the PostgreSQL server of `FASTUSERS_TEST_POSTGRES_URL`.
    Postgres,
}

/// Cheap argon2 parameters: the tests exercise the flows, not the cost.
pub fn fast_passwords() -> PasswordHelper {
    PasswordHelper::new(Argon2Params {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    })
    .expect("valid parameters")
}

/// The URL of a fresh, empty database.
pub async fn fresh_database(db: Db) -> String {
    match db {
        Db::Sqlite => "sqlite::memory:".to_owned(),
        Db::Postgres => {
            let base = std::env::var("FASTUSERS_TEST_POSTGRES_URL").expect(
                "FASTUSERS_TEST_POSTGRES_URL is not set: PostgreSQL tests need a real server; run them with scripts/test",
            );
            let name = format!("fastusers_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&base)
                .await
                .expect("connect to the test PostgreSQL server");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await
                .expect("create a test database");
            admin.close().await;
            let (prefix, _) = base
                .rsplit_once('/')
                .expect("a database URL ends with /dbname");
            format!("{prefix}/{name}")
        }
    }
}

/// The URL of a fresh, empty database that several stores can open: a new PostgreSQL
/// database, or a SQLite file in the temporary directory (`sqlite::memory:` is one connection's
/// own).
pub async fn shared_database(db: Db) -> String {
    match db {
        Db::Sqlite => format!(
            "sqlite:{}",
            std::env::temp_dir()
                .join(format!("fastusers-{}.db", uuid::Uuid::new_v4().simple()))
                .display()
        ),
        Db::Postgres => fresh_database(db).await,
    }
}

/// The application under test and its pieces.
#[allow(missing_debug_implementations)]
pub struct TestApp {
    /// The router, as the quickstart mounts it, plus test routes.
    pub router: Router,
    /// The routes `router` was made of (for the OpenAPI document).
    pub routes: fastusers::Routes<Auth>,
    /// The state, to reach the manager and store directly.
    pub state: FastUsers<Auth>,
    /// The database URL.
    pub url: String,
    /// The hooks, whose outbox holds the verification and reset tokens sent.
    pub hooks: TestHooks,
    /// The clock of the refresh tokens.
    pub clock: TestClock,
}

/// Options of [`TestApp::with`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `requires_verification`.
    pub requires_verification: bool,
    /// The access tokens' keys (default: HS256 with [`SECRET`]).
    pub keys: Option<fastusers::keys::KeySet>,
    /// Derive the access, verification and reset keys from this secret (overrides `keys`,
    /// [`VERIFY_SECRET`] and [`RESET_SECRET`]).
    pub secret: Option<fastusers::keys::Secret>,
    /// The manager's password policy (default: none; [`TestHooks`] has the quickstart's).
    pub password_policy: Option<fastusers::password::PasswordPolicy>,
    /// Connect the Redis backends to this server (default: none, the backends are off).
    pub redis_url: Option<String>,
    /// Send the verification and reset emails and the security notices with this mailer
    /// and [`link_templates`].
    pub mailer: Option<fastusers::mail::SmtpMailer>,
    /// Without `mailer`, write every email to this file ([`fastusers::mail::Outbox::file`]);
    /// read them with [`outbox_messages`].
    pub outbox: Option<std::path::PathBuf>,
    /// `send_verification_on_register`.
    pub verification_on_register: bool,
    /// Mount the OAuth routers of this provider: `/auth/mock` (Bearer + JWT),
    /// `/auth/mock-cookie` (Cookie + JWT, redirecting to `http://app.test/welcome`) and
    /// `/auth/associate/mock`.
    pub oauth: Option<(
        fastusers::oauth::OAuthClient,
        fastusers::oauth::OAuthOptions,
    )>,
    /// Throttle failed logins with this throttle (default: none, see `default_throttle`).
    pub throttle: Option<fastusers::throttle::LoginThrottle>,
    /// Without `throttle`, keep the login throttle that `FastUsers::new` starts with, instead
    /// of turning it off (`FastUsers::without_login_throttle`): the tests of other features make
    /// more failed logins than it allows.
    pub default_throttle: bool,
    /// The password hashing parameters (default: [`fast_passwords`]).
    pub passwords: Option<PasswordHelper>,
    /// Cookie backends trust these origins besides their own.
    pub trusted_origins: Vec<String>,
    /// The Cookie + JWT backend's cookie is named `__Host-fastapiusersauth`.
    pub host_prefix: bool,
    /// `FastUsers::behind_proxy`.
    pub behind_proxy: bool,
    /// Keep the user cache true through this channel (default: the store's own, as
    /// `UserManager::new` does).
    pub cache_channel: Option<fastusers::store::CacheChannel>,
    /// `FastUsers::sensitive_changes` (default: not called, so `FastUsers`' own default).
    pub sensitive_changes: Option<fastusers::SensitiveChanges>,
}

/// A path for an [`Options::outbox`] file of a test's own, in the temporary directory.
pub fn outbox_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "fastusers-outbox-{}.txt",
        uuid::Uuid::new_v4().simple()
    ))
}

/// One email of an outbox file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// The recipient.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// The emails written to an outbox file so far (none when it does not exist yet).
pub fn outbox_messages(path: &std::path::Path) -> Vec<OutboxMessage> {
    let written = std::fs::read_to_string(path).unwrap_or_default();
    written
        .split("----- email -----\n")
        .filter(|block| block.ends_with("----- end -----\n"))
        .map(|block| {
            let block = block.trim_end_matches("----- end -----\n");
            let (head, body) = block.split_once("\n\n").expect("headers, then the body");
            let (text, html) = body
                .split_once("----- html -----\n")
                .expect("an outbox file has both parts");
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .expect("the header is written")
                    .to_owned()
            };
            OutboxMessage {
                to: header("To: "),
                subject: header("Subject: "),
                text: text.to_owned(),
                html: html.to_owned(),
            }
        })
        .collect()
}

/// Waits (at most 5 s, the emails go out in the background) until the outbox file holds at
/// least `count` emails, and returns them all.
pub async fn wait_for_outbox(path: &std::path::Path, count: usize) -> Vec<OutboxMessage> {
    for _ in 0..250 {
        let messages = outbox_messages(path);
        if messages.len() >= count {
            return messages;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let messages = outbox_messages(path);
    panic!(
        "{} emails in {} after 5 s, not {count}: {messages:#?}",
        messages.len(),
        path.display()
    );
}

/// The link templates of the tests' emails.
pub fn link_templates() -> fastusers::mail::LinkTemplates {
    fastusers::mail::LinkTemplates::new(
        "http://app.test/verify?token={token}",
        "http://app.test/reset-password?token={token}",
    )
    .app_name("Camelot")
}

async fn optional_route(user: fastusers::OptionalUser<Auth>) -> String {
    user.0
        .map(|u| u.email)
        .unwrap_or_else(|| "anonymous".to_owned())
}

async fn cookie_only(user: ActiveUser<Auth, { Auth::COOKIE }>) -> String {
    user.email.clone()
}

async fn verified_only(user: VerifiedUser<Auth>) -> String {
    user.email.clone()
}

async fn any_status(user: CurrentUser<Auth>) -> String {
    format!("{} active={}", user.email, user.is_active)
}

async fn authenticated_route(user: ActiveUser<Auth>) -> axum::Json<Value> {
    axum::Json(json!({ "message": format!("Hello {}!", user.email) }))
}

impl TestApp {
    /// The default application on a fresh database.
    pub async fn new(db: Db) -> Self {
        Self::with(db, Options::default()).await
    }

    /// An application with options, on a fresh database.
    pub async fn with(db: Db, options: Options) -> Self {
        let url = fresh_database(db).await;
        let store = fastusers::store::connect::<User>(&url)
            .await
            .expect("open the store");
        let redis = match &options.redis_url {
            Some(redis_url) => Some(
                RedisStrategy::connect(redis_url, Some(3600))
                    .await
                    .expect("connect to the test Redis server")
                    .key_prefix(format!("test:{}:", uuid::Uuid::new_v4().simple())),
            ),
            None => None,
        };
        Self::on_store(store, url, options, redis)
    }

    /// An application on a given store and Redis strategy.
    pub fn on_store(
        store: Arc<dyn UserStore<User>>,
        url: String,
        options: Options,
        redis: Option<RedisStrategy>,
    ) -> Self {
        let database =
            DatabaseStrategy::new(store.as_ref(), Some(3600)).expect("the SQL store keeps tokens");
        let clock = TestClock::default();
        let refresh_tokens = {
            let clock = clock.clone();
            fastusers::refresh::RefreshTokens::new(store.as_ref())
                .expect("the SQL store keeps refresh tokens")
                .clock(move || clock.now())
        };
        let hooks = TestHooks::default();
        let account_tokens = match &options.secret {
            Some(secret) => fastusers::EmailTokens::from_secret(secret),
            None => fastusers::EmailTokens::new(
                JwtKeys::hs256(VERIFY_SECRET).expect("a long secret"),
                JwtKeys::hs256(RESET_SECRET).expect("a long secret"),
            ),
        };
        let manager = UserManager::new(store.clone());
        let manager = match options.cache_channel {
            Some(channel) => manager.with_user_cache(
                fastusers::store::CachedUserStore::new(store, fastusers::store::DEFAULT_TTL)
                    .channel(channel),
            ),
            None => manager,
        };
        let manager = manager
            .with_hooks(hooks.clone())
            .with_password_policy(
                options
                    .password_policy
                    .clone()
                    .unwrap_or_else(fastusers::password::PasswordPolicy::none),
            )
            .with_email_tokens(account_tokens)
            .with_password_helper(options.passwords.clone().unwrap_or_else(fast_passwords))
            .send_verification_on_register(options.verification_on_register);
        let manager = match (options.mailer, &options.outbox) {
            (Some(mailer), _) => manager.with_mailer(mailer, link_templates()),
            (None, Some(path)) => {
                manager.with_mailer(fastusers::mail::Outbox::file(path), link_templates())
            }
            (None, None) => manager,
        };
        let keys = match (&options.secret, options.keys) {
            (Some(secret), _) => secret.keys(fastusers::keys::Purpose::ACCESS).into(),
            (None, Some(keys)) => keys,
            (None, None) => JwtKeys::hs256(SECRET).expect("a long secret").into(),
        };
        let strategy = JwtStrategy::new(keys, Some(3600));
        // The refresh backends' access tokens live five minutes, under keys of their own: a
        // strategy that shares keys accepts the other's tokens, and reads a token without
        // `iat` (fastapi-users') by its own lifetime.
        let short_lived = JwtStrategy::new(
            JwtKeys::hs256(REFRESH_SECRET).expect("a long secret"),
            Some(300),
        );
        let auth = Auth {
            refresh: Backend::new(
                BearerTransport::new("auth/refresh/login"),
                short_lived.clone(),
            )
            .with_refresh(refresh_tokens.clone()),
            refreshcookie: Backend::new(
                CookieTransport::new()
                    .name("fastusers_refreshable")
                    .trusted_origins(options.trusted_origins.clone()),
                short_lived,
            )
            .with_refresh(refresh_tokens),
            jwt: Backend::new(BearerTransport::new("auth/jwt/login"), strategy.clone()),
            cookie: Backend::new(
                CookieTransport::new()
                    .max_age(3600)
                    .trusted_origins(options.trusted_origins.clone())
                    .host_prefix(options.host_prefix),
                strategy,
            ),
            redis: Backend::new(BearerTransport::new("auth/redis/login"), redis.clone()),
            rediscookie: Backend::new(CookieTransport::new().name("fastusers_redis"), redis),
            database: Backend::new(
                BearerTransport::new("auth/database/login"),
                database.clone(),
            ),
            session: Backend::new(CookieTransport::new().name("fastusers_session"), database),
        };
        let state = FastUsers::new(manager, auth)
            .requires_verification(options.requires_verification)
            .behind_proxy(options.behind_proxy);
        let state = match options.sensitive_changes {
            Some(rule) => state.sensitive_changes(rule),
            None => state,
        };
        let state = match (options.throttle, options.default_throttle) {
            (Some(throttle), _) => state.with_login_throttle(throttle),
            (None, true) => state,
            (None, false) => state.without_login_throttle(),
        };
        let mut routes = fastusers::Routes::new()
            .nest("/auth/jwt", Auth::jwt_router())
            .nest("/auth/cookie", Auth::cookie_router())
            .nest("/auth/redis", Auth::redis_router())
            .nest("/auth/rediscookie", Auth::rediscookie_router())
            .nest("/auth/database", Auth::database_router())
            .nest("/auth/session", Auth::session_router())
            .nest("/auth/refresh", Auth::refresh_router())
            .nest("/auth/refreshcookie", Auth::refreshcookie_router())
            .nest("/auth", FastUsers::<Auth>::register_router())
            .nest("/auth", FastUsers::<Auth>::verify_router())
            .nest("/auth", FastUsers::<Auth>::reset_password_router())
            .nest(
                "/users",
                FastUsers::<Auth>::users_router().merge(FastUsers::<Auth>::sessions_router()),
            )
            .route("/authenticated-route", get(authenticated_route))
            .route("/optional", get(optional_route))
            .route("/cookie-only", get(cookie_only))
            .route("/verified-only", get(verified_only))
            .route("/any-status", get(any_status));
        if let Some((client, oauth)) = options.oauth {
            let cookie = oauth
                .clone()
                .redirect_after_login("http://app.test/welcome");
            routes = routes
                .nest(
                    "/auth/mock",
                    FastUsers::<Auth>::oauth_router(client.clone(), |a| &a.jwt, oauth.clone()),
                )
                .nest(
                    "/auth/mock-cookie",
                    FastUsers::<Auth>::oauth_router(client.clone(), |a| &a.cookie, cookie),
                )
                .nest(
                    "/auth/associate/mock",
                    FastUsers::<Auth>::oauth_associate_router(client, oauth),
                );
        }
        let router = routes.clone().into_router().with_state(state.clone());
        Self {
            router,
            routes,
            state,
            url,
            hooks,
            clock,
        }
    }

    /// Sends a request. A request that gets no whole answer within [`REQUEST_TIMEOUT`] fails
    /// the test, naming the request, rather than hanging it.
    pub async fn send(&self, request: Request<Body>) -> Response {
        let what = format!("{} {}", request.method(), request.uri());
        let exchange = async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response
                .into_body()
                .collect()
                .await
                .expect("read the body")
                .to_bytes();
            Response {
                status,
                headers,
                body: bytes.to_vec(),
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| {
                panic!("{what} got no answer within {REQUEST_TIMEOUT:?}: the server hangs")
            })
    }

    /// A request builder.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        RequestBuilder {
            app: self,
            builder: Request::builder().method(method).uri(path),
            body: Body::empty(),
        }
    }

    /// The last token of this kind sent to this email, waiting for the background hook.
    pub async fn sent_token(&self, kind: &str, email: &str) -> Option<String> {
        for _ in 0..50 {
            let found = self
                .hooks
                .outbox
                .lock()
                .unwrap()
                .iter()
                .rev()
                .find(|(k, e, _)| k == kind && e == email)
                .map(|(_, _, t)| t.clone());
            if found.is_some() {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        None
    }

    /// How many tokens were sent in all.
    pub fn sent_count(&self) -> usize {
        self.hooks.outbox.lock().unwrap().len()
    }

    /// The status of `GET /users/me` with this bearer token.
    pub async fn me_status(&self, token: &str) -> StatusCode {
        self.request(Method::GET, "/users/me")
            .bearer(token)
            .send()
            .await
            .status
    }

    /// `POST /auth/register` with a JSON body.
    pub async fn register_json(&self, body: Value) -> Response {
        self.request(Method::POST, "/auth/register")
            .json(&body)
            .send()
            .await
    }

    /// `PATCH /users/me` with a JSON body, as the user of `token`.
    pub async fn patch_me(&self, token: &str, body: Value) -> Response {
        self.request(Method::PATCH, "/users/me")
            .bearer(token)
            .json(&body)
            .send()
            .await
    }

    /// Registers a user and returns its JSON.
    pub async fn register(&self, email: &str, password: &str) -> Value {
        let response = self
            .register_json(json!({"email": email, "password": password}))
            .await;
        assert_eq!(
            response.status,
            StatusCode::CREATED,
            "register {email}: {}",
            response.text()
        );
        response.json()
    }

    /// `POST /auth/jwt/login` with a form.
    pub async fn login_form(&self, backend: &str, fields: &[(&str, &str)]) -> Response {
        self.request(Method::POST, &format!("/auth/{backend}/login"))
            .form(fields)
            .send()
            .await
    }

    /// Logs in with the bearer backend and returns the token.
    pub async fn token(&self, email: &str, password: &str) -> String {
        let response = self
            .login_form("jwt", &[("username", email), ("password", password)])
            .await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "login {email}: {}",
            response.text()
        );
        response.json()["access_token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    /// Registers a user, makes it a superuser directly in the store, and returns its token.
    pub async fn superuser(&self, email: &str) -> String {
        let user = self.register(email, "excalibur!").await;
        let id = uuid::Uuid::parse_str(user["id"].as_str().expect("id")).expect("uuid");
        self.change_in_store(
            &id,
            UserChanges {
                is_superuser: Some(true),
                ..Default::default()
            },
        )
        .await;
        self.token(email, "excalibur!").await
    }

    /// Changes a user directly in the store, behind the manager's back (as another program
    /// would): no validation, no hook, no revocation.
    pub async fn change_in_store(&self, id: &uuid::Uuid, changes: UserChanges) -> User {
        self.state
            .manager()
            .store()
            .update(id, &changes)
            .await
            .expect("the store answers")
            .expect("the user exists")
    }
}

/// Builds a request for [`TestApp`].
#[allow(missing_debug_implementations)]
pub struct RequestBuilder<'a> {
    app: &'a TestApp,
    builder: axum::http::request::Builder,
    body: Body,
}

impl RequestBuilder<'_> {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// The connection's peer address, as `into_make_service_with_connect_info` gives it.
    pub fn peer(mut self, address: std::net::SocketAddr) -> Self {
        self.builder = self.builder.extension(axum::extract::ConnectInfo(address));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A JSON body.
    pub fn json(self, value: &Value) -> Self {
        self.raw("application/json", value.to_string())
    }

    /// A URL-encoded form body.
    pub fn form(self, fields: &[(&str, &str)]) -> Self {
        let body = serde_urlencoded_pairs(fields);
        self.raw("application/x-www-form-urlencoded", body)
    }

    /// A body with this content type.
    pub fn raw(mut self, content_type: &str, body: impl Into<Body>) -> Self {
        self.builder = self.builder.header(header::CONTENT_TYPE, content_type);
        self.body = body.into();
        self
    }

    /// A body without a content type.
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends it.
    pub async fn send(self) -> Response {
        self.app
            .send(self.builder.body(self.body).expect("a valid request"))
            .await
    }
}

fn serde_urlencoded_pairs(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    }

    /// Asserts the status and the JSON body.
    pub fn assert(&self, status: StatusCode, body: Value) {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(self.json(), body);
    }
}

/// How a client presents the token of a backend.
#[derive(Debug, Clone, Copy)]
pub enum Carrier {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A cookie of this name.
    Cookie(&'static str),
}

/// Every backend of [`Auth`]: its name, how its token travels, and whether the server keeps
/// its tokens (so that logout revokes them).
pub const BACKENDS: [(&str, Carrier, bool); 6] = [
    ("jwt", Carrier::Bearer, false),
    ("cookie", Carrier::Cookie("fastapiusersauth"), false),
    ("redis", Carrier::Bearer, true),
    ("rediscookie", Carrier::Cookie("fastusers_redis"), true),
    ("database", Carrier::Bearer, true),
    ("session", Carrier::Cookie("fastusers_session"), true),
];

/// Logs in with a backend and returns the token as the client holds it.
pub async fn login(
    app: &TestApp,
    backend: &str,
    carrier: Carrier,
    email: &str,
    password: &str,
) -> String {
    let response = app
        .login_form(backend, &[("username", email), ("password", password)])
        .await;
    match carrier {
        Carrier::Bearer => {
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{backend} login: {}",
                response.text()
            );
            response.json()["access_token"]
                .as_str()
                .expect("a token")
                .to_owned()
        }
        Carrier::Cookie(name) => {
            assert_eq!(
                response.status,
                StatusCode::NO_CONTENT,
                "{backend} login: {}",
                response.text()
            );
            let cookie = response.header("set-cookie").expect("a cookie");
            cookie
                .strip_prefix(&format!("{name}="))
                .expect("the backend's cookie")
                .split(';')
                .next()
                .expect("a value")
                .to_owned()
        }
    }
}

/// Sends a request with a token, as the client of its backend presents it.
pub async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    carrier: Carrier,
    token: &str,
) -> Response {
    let request = app.request(method, path);
    match carrier {
        Carrier::Bearer => request.bearer(token),
        Carrier::Cookie(name) => request.header("cookie", &format!("{name}={token}")),
    }
    .send()
    .await
}

/// Runs each listed async test function on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Db::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Db::Postgres).await })*
        }
    };
}

/// The claims of a JWT, decoded without checking it (to read what a real token carries).
pub fn decode_claims(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url"),
    )
    .expect("JSON claims")
}
