//! The quickstart: fastusers configured as fastapi-users' full example, on SQLite by default.
//!
//! ```text
//! cargo run --example quickstart                                  # serve on :8000; page at /
//! cargo run --example quickstart -- create-superuser EMAIL PASSWORD
//! cargo run --example quickstart -- promote EMAIL
//! cargo run --example quickstart -- schema [sqlite|postgres]     # the tables' SQL, for migrations
//! ```
//!
//! Environment: `DATABASE_URL` (default `sqlite:fastusers.db`; `postgres://...` works too),
//! `SECRET` (signs every token, as it is, as fastapi-users' `SECRET` does; at least 32 bytes,
//! or the example refuses to start unless `ALLOW_WEAK_SECRET=true`; a random one is made when
//! unset, so tokens die with the process), `PORT` (default 8000), `COOKIE_SECURE=false` to send the cookies over plain HTTP,
//! `REDIS_URL` (mounts the Bearer + Redis backend at `/auth/redis`), `MAILBOX=PATH` (appends
//! each verification and reset token to PATH as a JSON line), `USER_CACHE_SECONDS=N` (the
//! user cache, on by default, keeps a user read by id for N seconds at most, 60 by default, so
//! JWT and Redis requests skip the database; every change made by any instance evicts the user
//! from every instance's cache at once, so this is a last resort; `0` turns the cache off),
//! `BEHIND_PROXY=true` when a reverse proxy in front sets `X-Forwarded-For`, `-Proto` and
//! `-Host` (the throttle's client address, the OAuth callback URL and the CSRF check then come
//! from them; off, they are ignored, since any client can send them).
//!
//! Logins are throttled (5 failures per account and 300 per client address in 15 minutes,
//! counted in Redis when `REDIS_URL` is set), with device tokens: a client that logged in
//! gets one (the `fastusers_device` cookie, or `device_token` in the Bearer login's JSON, which
//! it sends back in the login form's `device_token` field), and its logins are then counted
//! per device, so that an attacker who fills an account's count does not lock its owner out.
//!
//! Email: with `SMTP_URL` set (`smtp://user:pass@host:587?tls=required`, `smtps://...`, or
//! `smtp://localhost:25` for a local relay) the verification and reset emails are sent from
//! `MAIL_FROM`; otherwise they are written to the development outbox, the console or the file
//! `OUTBOX=PATH`. Their links point at `FRONTEND_URL` (default `http://localhost:PORT`):
//! `/verify?token=...` and `/reset-password?token=...`. `VERIFY_ON_REGISTER=true` sends the
//! verification email at registration.
//!
//! OAuth (mounted when configured; the callback URL to register at the provider is
//! `http://HOST/auth/{name}/callback`, and `/auth/associate/{name}/callback` for linking):
//! `GOOGLE_CLIENT_ID` + `GOOGLE_CLIENT_SECRET` mount `google`, `GITHUB_CLIENT_ID` +
//! `GITHUB_CLIENT_SECRET` mount `github`, and `OAUTH_ISSUER` + `OAUTH_CLIENT_ID` +
//! `OAUTH_CLIENT_SECRET` mount any OpenID Connect provider (found by discovery) under
//! `OAUTH_NAME` (default `oidc`). `/auth/{name}` logs in with Bearer + JWT, as the reference's
//! example; `/auth/{name}-cookie` with the cookie backend, redirecting to
//! `OAUTH_REDIRECT_AFTER_LOGIN` when set. Emails are linked to existing users
//! who verified them (`associate_by_email`; an unverified one answers
//! `OAUTH_USER_ALREADY_EXISTS`) and new users are verified when the provider vouches for the
//! email.
//!
//! The browser page (module `web`, files `web/`): `http://localhost:PORT/` registers, signs in
//! with the cookie backends, shows and changes the profile, and opens the emails' links
//! `/verify?token=...` and `/reset-password?token=...`; `scripts/browser` tests it in Chromium.

mod docs;
mod web;

use std::net::SocketAddr;

use axum::Router;
use axum::http::Method;
use fastusers::Routes;
use fastusers::error::Report;
use fastusers::hooks::{InvalidPassword, PasswordOwner, RequestInfo};
use fastusers::mail::{LinkTemplates, Outbox, SmtpMailer};
use fastusers::oauth::{OAuthClient, OAuthOptions};
use fastusers::openapi::schema;
use fastusers::password::PasswordPolicy;
use fastusers::prelude::*;
use fastusers::strategy::{DatabaseStrategy, RedisStrategy};
use fastusers::throttle::{DeviceTokens, LoginThrottle, RedisThrottleStore};
use fastusers::transport::SameSite;
use serde_json::json;

/// The user model: the base fields, UUID ids, table `user` (as the reference's), and OAuth
/// accounts (table `oauth_account`).
#[derive(User, Clone, Debug)]
#[fastusers(oauth)]
pub struct User {
    /// Primary key, a random UUID.
    pub id: uuid::Uuid,
    /// Email address, unique case-insensitively.
    pub email: String,
    /// argon2id hash of the password.
    pub hashed_password: String,
    /// Whether the user may log in.
    pub is_active: bool,
    /// Whether the user may manage other users.
    pub is_superuser: bool,
    /// Whether the user verified their email.
    pub is_verified: bool,
}

fastusers::auth_backends! {
    /// Bearer + JWT at `/auth/jwt`, Cookie + JWT at `/auth/cookie`, Bearer + Redis at
    /// `/auth/redis` (when `REDIS_URL` is set), Cookie + database token at `/auth/session`.
    pub struct Auth for User {
        jwt: BearerTransport, JwtStrategy;
        cookie: CookieTransport, JwtStrategy;
        redis: BearerTransport, Option<RedisStrategy>;
        session: CookieTransport, DatabaseStrategy<User>;
    }
}

/// The reference example's hooks: its password policy and some logging (never of a token,
/// unlike the reference's: a log is read by more people than a mailbox); with `MAILBOX=PATH`,
/// every verification and reset token is appended to PATH as one JSON line
/// `{"kind": "verify" | "reset", "email": ..., "token": ...}`.
struct AppHooks {
    mailbox: Option<std::path::PathBuf>,
}

impl AppHooks {
    fn post(&self, kind: &str, user: &User, token: &str) {
        let Some(path) = &self.mailbox else { return };
        let line = json!({"kind": kind, "email": user.email, "token": token}).to_string() + "\n";
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
        if let Err(error) = written {
            tracing::error!(%error, path = %path.display(), "could not write to MAILBOX");
        }
    }
}

#[fastusers::async_trait]
impl Hooks<User> for AppHooks {
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

    async fn on_after_register(&self, user: &User, _request: RequestInfo<'_>) {
        tracing::info!("User {} has registered.", user.id);
    }

    async fn on_after_forgot_password(&self, user: &User, token: &str, _request: RequestInfo<'_>) {
        tracing::info!("User {} has forgot their password.", user.id);
        self.post("reset", user, token);
    }

    async fn on_after_request_verify(&self, user: &User, token: &str, _request: RequestInfo<'_>) {
        tracing::info!("Verification requested for user {}.", user.id);
        self.post("verify", user, token);
    }
}

async fn authenticated_route(user: ActiveUser<Auth>) -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "message": format!("Hello {}!", user.email) }))
}

/// `GET /authenticated-route`, with its description.
fn hello_routes() -> Routes<Auth> {
    Routes::new().route_documented(
        Method::GET,
        "/authenticated-route",
        authenticated_route,
        |cx| {
            let hello = schema::object("A greeting.", vec![("message", schema::string(), true)]);
            cx.op("authenticated_route", "A route for active users")
                .requires_user()
                .json_response(200, "Hello, user.", hello)
        },
    )
}

struct Config {
    database_url: String,
    redis_url: Option<String>,
    secret: Secret,
    port: u16,
    cookie_secure: bool,
    smtp_url: Option<String>,
    mail_from: String,
    outbox: Option<std::path::PathBuf>,
    frontend_url: String,
    verify_on_register: bool,
    /// `None`: no user cache; `Some(None)`: the default TTL.
    user_cache: Option<Option<std::time::Duration>>,
    behind_proxy: bool,
}

/// A boolean environment variable.
fn flag(name: &str, default: bool) -> Result<bool, String> {
    match std::env::var(name).as_deref() {
        Ok("false" | "0" | "no") => Ok(false),
        Ok("true" | "1" | "yes") => Ok(true),
        Err(_) => Ok(default),
        Ok(other) => Err(format!("{name} must be true or false, not `{other}`")),
    }
}

/// A string environment variable, unset when empty.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let secret = match std::env::var("SECRET") {
            Err(_) => {
                tracing::warn!(
                    "SECRET is not set: using a random secret, so tokens will not survive a restart"
                );
                Secret::random()
            }
            Ok(secret) if flag("ALLOW_WEAK_SECRET", false)? => Secret::accept_weak(secret),
            Ok(secret) => Secret::new(secret)
                .map_err(|e| format!("SECRET: {e} (here: ALLOW_WEAK_SECRET=true)"))?,
        };
        // One secret for every kind of token, as fastapi-users' example: its tokens and ours
        // are interchangeable.
        let secret = secret.same_key_for_every_purpose();
        let port = match std::env::var("PORT") {
            Ok(p) => p
                .parse()
                .map_err(|_| format!("PORT must be a port number, not `{p}`"))?,
            Err(_) => 8000,
        };
        Ok(Self {
            database_url: var("DATABASE_URL").unwrap_or_else(|| "sqlite:fastusers.db".to_owned()),
            redis_url: var("REDIS_URL"),
            secret,
            port,
            cookie_secure: flag("COOKIE_SECURE", true)?,
            smtp_url: var("SMTP_URL"),
            mail_from: var("MAIL_FROM")
                .unwrap_or_else(|| "fastusers quickstart <noreply@localhost>".to_owned()),
            outbox: var("OUTBOX").map(Into::into),
            frontend_url: var("FRONTEND_URL")
                .unwrap_or_else(|| format!("http://localhost:{port}"))
                .trim_end_matches('/')
                .to_owned(),
            verify_on_register: flag("VERIFY_ON_REGISTER", false)?,
            behind_proxy: flag("BEHIND_PROXY", false)?,
            user_cache: match var("USER_CACHE_SECONDS") {
                None => Some(None),
                Some(n) => match n.parse::<f64>() {
                    Ok(0.0) => None,
                    Ok(s) if s > 0.0 && s.is_finite() => {
                        Some(Some(std::time::Duration::from_secs_f64(s)))
                    }
                    _ => {
                        return Err(format!(
                            "USER_CACHE_SECONDS must be a number of seconds, not `{n}`"
                        ));
                    }
                },
            },
        })
    }
}

async fn manager(config: &Config) -> Result<UserManager<User>, String> {
    let store = fastusers::store::connect::<User>(&config.database_url)
        .await
        .map_err(|e| Report(&e).to_string())?;
    let hooks = AppHooks {
        mailbox: std::env::var_os("MAILBOX").map(Into::into),
    };
    let manager = UserManager::new(store)
        .with_hooks(hooks)
        // The reference's policy, in `AppHooks::validate_password`, and nothing more: clients
        // written for fastapi-users meet the rules they expect.
        .with_password_policy(PasswordPolicy::none())
        .with_email_tokens(fastusers::manager::EmailTokens::from_secret(&config.secret))
        .send_verification_on_register(config.verify_on_register);
    // On by default (`UserManager::new`), kept true by PostgreSQL's LISTEN/NOTIFY or, on
    // SQLite, by the file's own change counter.
    let manager = match config.user_cache {
        Some(Some(ttl)) => manager.user_cache_ttl(ttl),
        Some(None) => manager,
        None => manager.without_user_cache(),
    };
    let templates = LinkTemplates::new(
        format!("{}/verify?token={{token}}", config.frontend_url),
        format!("{}/reset-password?token={{token}}", config.frontend_url),
    )
    .app_name("fastusers quickstart");
    Ok(match (&config.smtp_url, &config.outbox) {
        (Some(url), _) => {
            let mailer = SmtpMailer::builder(url, &config.mail_from)
                .build()
                .map_err(|e| format!("SMTP_URL: {e}"))?;
            manager.with_mailer(mailer, templates)
        }
        (None, Some(path)) => manager.with_mailer(Outbox::file(path), templates),
        (None, None) => manager.with_mailer(Outbox::console(), templates),
    })
}

/// Where the emails go, for the start-up line.
fn mail_target(config: &Config) -> String {
    match (&config.smtp_url, &config.outbox) {
        (Some(url), _) => match url.split_once('@') {
            // Not the credentials.
            Some((_, host)) => format!("SMTP {host}"),
            None => format!(
                "SMTP {}",
                url.trim_start_matches("smtp://")
                    .trim_start_matches("smtps://")
            ),
        },
        (None, Some(path)) => format!("outbox file {}", path.display()),
        (None, None) => "outbox on the console".to_owned(),
    }
}

/// The OAuth providers the environment configures.
async fn oauth_clients() -> Result<Vec<OAuthClient>, String> {
    let mut clients = Vec::new();
    if let (Some(id), Some(secret)) = (var("GOOGLE_CLIENT_ID"), var("GOOGLE_CLIENT_SECRET")) {
        clients.push(OAuthClient::google(id, secret));
    }
    if let (Some(id), Some(secret)) = (var("GITHUB_CLIENT_ID"), var("GITHUB_CLIENT_SECRET")) {
        clients.push(OAuthClient::github(id, secret));
    }
    if let Some(issuer) = var("OAUTH_ISSUER") {
        let name = var("OAUTH_NAME").unwrap_or_else(|| "oidc".to_owned());
        let (Some(id), Some(secret)) = (var("OAUTH_CLIENT_ID"), var("OAUTH_CLIENT_SECRET")) else {
            return Err("OAUTH_ISSUER needs OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET".to_owned());
        };
        let client = OAuthClient::discover(name, &issuer, id, secret)
            .await
            .map_err(|e| {
                // The whole chain: "discovery failed: request failed: connection refused".
                let mut message = format!("OAUTH_ISSUER: {e}");
                let mut cause = std::error::Error::source(&e);
                while let Some(error) = cause {
                    message.push_str(&format!(": {error}"));
                    cause = error.source();
                }
                message
            })?;
        clients.push(client);
    }
    Ok(clients)
}

/// Mounts the login and associate routers of each OAuth provider.
fn mount_oauth(
    mut routes: Routes<Auth>,
    config: &Config,
    clients: Vec<OAuthClient>,
) -> Routes<Auth> {
    let options = OAuthOptions::new(&config.secret)
        .associate_by_email(true)
        .is_verified_by_default(true)
        .csrf_cookie(
            CookieTransport::new()
                .name("fastapiusersoauthcsrf")
                .max_age(3600)
                .secure(config.cookie_secure),
        );
    for client in clients {
        let name = client.name().to_owned();
        let cookie_options = match var("OAUTH_REDIRECT_AFTER_LOGIN") {
            Some(url) => options.clone().redirect_after_login(url),
            None => options.clone(),
        };
        routes = routes
            .nest(
                &format!("/auth/{name}"),
                FastUsers::<Auth>::oauth_router(client.clone(), |a| &a.jwt, options.clone()),
            )
            .nest(
                &format!("/auth/{name}-cookie"),
                FastUsers::<Auth>::oauth_router(client.clone(), |a| &a.cookie, cookie_options),
            )
            .nest(
                &format!("/auth/associate/{name}"),
                FastUsers::<Auth>::oauth_associate_router(client, options.clone()),
            );
    }
    routes
}

async fn app(config: &Config, manager: UserManager<User>) -> Result<Router, String> {
    const LIFETIME: Option<u64> = Some(3600);
    let jwt = JwtStrategy::new(config.secret.keys(Purpose::ACCESS), LIFETIME);
    let redis = match &config.redis_url {
        Some(url) => Some(
            RedisStrategy::connect(url, LIFETIME)
                .await
                .map_err(|e| format!("REDIS_URL: {e}"))?,
        ),
        None => None,
    };
    let database = DatabaseStrategy::new(manager.store().as_ref(), LIFETIME)
        .map_err(|e| Report(&e).to_string())?;
    let cookie = CookieTransport::new()
        .max_age(3600)
        .secure(config.cookie_secure);
    let auth = Auth {
        jwt: Backend::new(BearerTransport::new("auth/jwt/login"), jwt.clone()),
        cookie: Backend::new(cookie.clone(), jwt),
        redis: Backend::new(BearerTransport::new("auth/redis/login"), redis),
        session: Backend::new(cookie.name("fastusers_session"), database),
    };
    let mut routes = Routes::new()
        .nest("/auth/jwt", Auth::jwt_router())
        .nest("/auth/cookie", Auth::cookie_router())
        .nest("/auth/session", Auth::session_router());
    if config.redis_url.is_some() {
        routes = routes.nest("/auth/redis", Auth::redis_router());
    }
    let routes = mount_oauth(routes, config, oauth_clients().await?)
        .nest("/auth", FastUsers::<Auth>::register_router())
        .nest("/auth", FastUsers::<Auth>::verify_router())
        .nest("/auth", FastUsers::<Auth>::reset_password_router())
        .nest(
            "/users",
            FastUsers::<Auth>::users_router().merge(FastUsers::<Auth>::sessions_router()),
        )
        .merge(hello_routes());
    let users = FastUsers::new(manager, auth)
        .with_login_throttle(login_throttle(config).await?)
        .behind_proxy(config.behind_proxy);
    // The document of exactly what is mounted above.
    let api = docs::openapi(&routes, &users);
    Ok(routes
        .into_router()
        .merge(docs::router(api))
        .merge(web::router())
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::status_only(axum::http::StatusCode::METHOD_NOT_ALLOWED)
        })
        .with_state(users))
}

/// Failed-login throttling: 5 failures per account and 300 per client address in 15
/// minutes, counted in Redis when `REDIS_URL` is set (so the limit holds across instances),
/// and device tokens (30 days; 5 failures per device in 15 minutes), signed with a key
/// derived from `SECRET`.
async fn login_throttle(config: &Config) -> Result<LoginThrottle, String> {
    let window = std::time::Duration::from_secs(15 * 60);
    let devices = DeviceTokens::new(&config.secret).cookie(
        CookieTransport::new()
            .name("fastusers_device")
            .same_site(SameSite::Strict)
            .secure(config.cookie_secure),
    );
    let throttle = LoginThrottle::new()
        .per_account(5, window)
        .per_address(300, window)
        .device_tokens(devices);
    Ok(match &config.redis_url {
        Some(url) => throttle.redis(
            RedisThrottleStore::connect(url)
                .await
                .map_err(|e| format!("REDIS_URL: {e}"))?,
        ),
        None => throttle,
    })
}

async fn create_superuser(
    manager: &UserManager<User>,
    email: &str,
    password: &str,
) -> Result<(), String> {
    let create = UserCreate {
        email: fastusers::email::normalize(email).map_err(|e| format!("invalid email: {e}"))?,
        password: password.to_owned(),
        is_superuser: Some(true),
        is_verified: Some(true),
        ..Default::default()
    };
    let user = manager
        .create(create, false, None)
        .await
        .map_err(|e| Report(&e).to_string())?;
    println!("Created superuser {} ({})", user.email, user.id);
    Ok(())
}

async fn promote(manager: &UserManager<User>, email: &str) -> Result<(), String> {
    let user = manager
        .get_by_email(email)
        .await
        .map_err(|e| Report(&e).to_string())?
        .ok_or_else(|| format!("no user with email {email}"))?;
    let changes = UserChanges {
        is_superuser: Some(true),
        ..Default::default()
    };
    let user = manager
        .apply(&user, changes, None)
        .await
        .map_err(|e| Report(&e).to_string())?;
    println!("{} ({}) is now a superuser", user.email, user.id);
    Ok(())
}

const USAGE: &str = "usage: quickstart [serve | create-superuser EMAIL PASSWORD | promote EMAIL | schema [sqlite|postgres]]";

/// `schema`: prints the SQL of every table the example needs, for the database named (by
/// default the one of `DATABASE_URL`), without connecting to it.
fn print_schema(dialect: Option<&str>, database_url: &str) -> Result<(), String> {
    use fastusers::store::Dialect;
    let dialect = match dialect {
        Some("sqlite") => Dialect::Sqlite,
        Some("postgres") => Dialect::Postgres,
        None if database_url.starts_with("sqlite:") => Dialect::Sqlite,
        None => Dialect::Postgres,
        Some(other) => return Err(format!("schema: unknown database `{other}`; {USAGE}")),
    };
    print!("{}", fastusers::store::schema_sql::<User>(dialect));
    Ok(())
}

async fn run() -> Result<(), String> {
    let config = Config::from_env()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let ["schema", rest @ ..] = args.as_slice() {
        return match rest {
            [] => print_schema(None, &config.database_url),
            [dialect] => print_schema(Some(dialect), &config.database_url),
            _ => Err(USAGE.to_owned()),
        };
    }
    let manager = manager(&config).await?;
    match args.as_slice() {
        [] | ["serve"] => {
            let addr = SocketAddr::from(([0, 0, 0, 0], config.port));
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let app = app(&config, manager).await?;
            tracing::info!(
                "fastusers quickstart listening on http://{addr} (database: {}, redis: {}, email: {})",
                config.database_url,
                config.redis_url.as_deref().unwrap_or("off"),
                mail_target(&config),
            );
            // The peer address feeds the per-address login throttle (unless BEHIND_PROXY).
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| Report(&e).to_string())
        }
        ["create-superuser", email, password] => create_superuser(&manager, email, password).await,
        ["promote", email] => promote(&manager, email).await,
        _ => Err(USAGE.to_owned()),
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Err(message) = run().await {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
