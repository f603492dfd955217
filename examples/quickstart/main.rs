//! The quickstart: fastusers configured as fastapi-users' full example, on SQLite by default.
//!
//! ```text
//! cargo run --example quickstart                                  # serve on :8000; page at /
//! cargo run --example quickstart -- create-superuser EMAIL PASSWORD
//! cargo run --example quickstart -- promote EMAIL
//! cargo run --example quickstart -- schema [sqlite|postgres]     # the tables' SQL, for migrations
//! ```
//!
//! Every setting is an option that is also read from its environment variable, as before
//! (`DATABASE_URL`, `SECRET`, `PORT`, `COOKIE_SECURE`, `REDIS_URL`, `MAILBOX`,
//! `USER_CACHE_SECONDS`, `BEHIND_PROXY`, ...): `quickstart --help` lists them (module `cli`),
//! and the guide's "Operating the example server" explains each. `SECRET` signs every token,
//! as it is, as fastapi-users' `SECRET` does: at least 32 bytes, or the example refuses to
//! start unless `ALLOW_WEAK_SECRET=true`; a random one is made when unset, so tokens die with
//! the process.
//!
//! Operations (modules `serve` and `ops`): `GET /health`, `GET /ready` (the database and Redis
//! answer, else 503 naming which), the metrics in Prometheus' text format at `METRICS_PATH`
//! (on `METRICS_PORT` when set), a span per request in the log (`LOG_FORMAT=json` for JSON),
//! a header read timeout and a whole-request timeout against slow clients, and a graceful
//! shutdown on SIGTERM or Ctrl-C.
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
//! Refresh tokens (see the guide's chapter): Bearer + JWT at `/auth/app` and Cookie + JWT at
//! `/auth/page` have them: their access tokens live `ACCESS_TOKEN_SECONDS` (default 300), and
//! `POST /auth/app/refresh` (`grant_type=refresh_token&refresh_token=...`) or
//! `POST /auth/page/refresh` (the refresh cookie) renews them. Their tokens have an audience of
//! their own, so the reference's backends neither take them nor give them.
//!
//! The browser page (module `web`, files `web/`): `http://localhost:PORT/` registers, signs in
//! with the cookie backends, shows and changes the profile, and opens the emails' links
//! `/verify?token=...` and `/reset-password?token=...`; `scripts/browser` tests it in Chromium.

mod cli;
mod docs;
mod ops;
mod serve;
mod web;

use std::net::SocketAddr;

use axum::Router;
use axum::http::Method;
use fastusers::Routes;
use fastusers::error::Report;
use fastusers::mail::{LinkTemplates, Outbox, SmtpMailer};
use fastusers::oauth::{OAuthClient, OAuthOptions};
use fastusers::openapi::schema;
use fastusers::password::PasswordPolicy;
use fastusers::prelude::*;
use fastusers::strategy::{DatabaseStrategy, RedisStrategy};
use fastusers::throttle::{DeviceTokens, LoginThrottle, RedisThrottleStore};
use fastusers::transport::SameSite;
use fastusers::{InvalidPassword, PasswordOwner, RequestInfo};
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
    /// `/auth/redis` (when `REDIS_URL` is set), Cookie + database token at `/auth/session`;
    /// with refresh tokens, Bearer + JWT at `/auth/app` and Cookie + JWT at `/auth/page`.
    pub struct Auth for User {
        jwt: BearerTransport, JwtStrategy;
        cookie: CookieTransport, JwtStrategy;
        redis: BearerTransport, Option<RedisStrategy>;
        session: CookieTransport, DatabaseStrategy<User>;
        app: BearerTransport, JwtStrategy, refresh;
        page: CookieTransport, JwtStrategy, refresh;
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

/// The settings, checked: what `cli::Settings` gives, with the secret made.
struct Config {
    settings: cli::Settings,
    secret: Secret,
    frontend_url: String,
}

impl Config {
    fn new(settings: cli::Settings) -> Result<Self, String> {
        let secret = match &settings.secret {
            None => {
                tracing::warn!(
                    "SECRET is not set: using a random secret, so tokens will not survive a restart"
                );
                Secret::random()
            }
            Some(secret) if settings.allow_weak_secret => Secret::accept_weak(secret.clone()),
            Some(secret) => Secret::new(secret.clone())
                .map_err(|e| format!("SECRET: {e} (here: ALLOW_WEAK_SECRET=true)"))?,
        };
        // One secret for every kind of token, as fastapi-users' example: its tokens and ours
        // are interchangeable.
        let secret = secret.same_key_for_every_purpose();
        let frontend_url = settings
            .frontend_url
            .clone()
            .unwrap_or_else(|| format!("http://localhost:{}", settings.port))
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            settings,
            secret,
            frontend_url,
        })
    }
}

async fn manager(config: &Config) -> Result<UserManager<User>, String> {
    let settings = &config.settings;
    let store = fastusers::store::connect::<User>(&settings.database_url)
        .await
        .map_err(|e| Report(&e).to_string())?;
    let hooks = AppHooks {
        mailbox: settings.mailbox.clone(),
    };
    let manager = UserManager::new(store)
        .with_hooks(hooks)
        // The reference's policy, in `AppHooks::validate_password`, and nothing more: clients
        // written for fastapi-users meet the rules they expect.
        .with_password_policy(PasswordPolicy::none())
        .with_email_tokens(fastusers::EmailTokens::from_secret(&config.secret))
        .send_verification_on_register(settings.verify_on_register);
    // On by default (`UserManager::new`), kept true by PostgreSQL's LISTEN/NOTIFY or, on
    // SQLite, by the file's own change counter.
    let manager = match settings.user_cache_seconds.0 {
        Some(ttl) => manager.user_cache_ttl(ttl),
        None => manager.without_user_cache(),
    };
    let templates = LinkTemplates::new(
        format!("{}/verify?token={{token}}", config.frontend_url),
        format!("{}/reset-password?token={{token}}", config.frontend_url),
    )
    .app_name("fastusers quickstart");
    Ok(match (&settings.smtp_url, &settings.outbox) {
        (Some(url), _) => {
            let mailer = SmtpMailer::builder(url, &settings.mail_from)
                .build()
                .map_err(|e| format!("SMTP_URL: {e}"))?;
            manager.with_mailer(mailer, templates)
        }
        (None, Some(path)) => manager.with_mailer(Outbox::file(path), templates),
        (None, None) => manager.with_mailer(Outbox::console(), templates),
    })
}

/// Where the emails go, for the start-up line.
fn mail_target(settings: &cli::Settings) -> String {
    match (&settings.smtp_url, &settings.outbox) {
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

/// The OAuth providers the settings configure.
async fn oauth_clients(settings: &cli::Settings) -> Result<Vec<OAuthClient>, String> {
    let mut clients = Vec::new();
    if let (Some(id), Some(secret)) = (&settings.google_client_id, &settings.google_client_secret) {
        clients.push(OAuthClient::google(id.clone(), secret.clone()));
    }
    if let (Some(id), Some(secret)) = (&settings.github_client_id, &settings.github_client_secret) {
        clients.push(OAuthClient::github(id.clone(), secret.clone()));
    }
    if let Some(issuer) = &settings.oauth_issuer {
        let name = settings.oauth_name.clone();
        let (Some(id), Some(secret)) = (&settings.oauth_client_id, &settings.oauth_client_secret)
        else {
            return Err("OAUTH_ISSUER needs OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET".to_owned());
        };
        let client = OAuthClient::discover(name, issuer, id.clone(), secret.clone())
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
                .secure(config.settings.cookie_secure),
        );
    for client in clients {
        let name = client.name().to_owned();
        let cookie_options = match &config.settings.oauth_redirect_after_login {
            Some(url) => options.clone().redirect_after_login(url.clone()),
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

/// The application: the API, its document, the browser page, `/health`, `/ready` and, when
/// `metrics` is given, the metrics at METRICS_PATH.
async fn app(
    config: &Config,
    manager: UserManager<User>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> Result<Router, String> {
    const LIFETIME: Option<u64> = Some(3600);
    let settings = &config.settings;
    let jwt = JwtStrategy::new(config.secret.keys(Purpose::ACCESS), LIFETIME);
    let redis = match &settings.redis_url {
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
        .secure(settings.cookie_secure);
    let refresh = fastusers::refresh::RefreshTokens::new(manager.store().as_ref())
        .map_err(|e| Report(&e).to_string())?;
    // Short-lived, under an audience of their own: a reference backend's hour-long token is
    // no token here, and these are none there.
    let short = JwtStrategy::new(
        config.secret.keys(Purpose::ACCESS),
        Some(settings.access_token_seconds),
    )
    .audience(["fastusers:refreshable"]);
    let auth = Auth {
        app: Backend::new(BearerTransport::new("auth/app/login"), short.clone())
            .with_refresh(refresh.clone()),
        page: Backend::new(
            cookie
                .clone()
                .name("fastusers_page")
                .max_age(settings.access_token_seconds),
            short,
        )
        .with_refresh(refresh),
        jwt: Backend::new(BearerTransport::new("auth/jwt/login"), jwt.clone()),
        cookie: Backend::new(cookie.clone(), jwt),
        redis: Backend::new(BearerTransport::new("auth/redis/login"), redis),
        session: Backend::new(cookie.name("fastusers_session"), database),
    };
    let mut routes = Routes::new()
        .nest("/auth/jwt", Auth::jwt_router())
        .nest("/auth/cookie", Auth::cookie_router())
        .nest("/auth/session", Auth::session_router())
        .nest("/auth/app", Auth::app_router())
        .nest("/auth/page", Auth::page_router());
    if settings.redis_url.is_some() {
        routes = routes.nest("/auth/redis", Auth::redis_router());
    }
    let mut routes = mount_oauth(routes, config, oauth_clients(settings).await?)
        .nest("/auth", FastUsers::<Auth>::register_router())
        .nest("/auth", FastUsers::<Auth>::verify_router())
        .nest("/auth", FastUsers::<Auth>::reset_password_router())
        .nest(
            "/users",
            FastUsers::<Auth>::users_router().merge(FastUsers::<Auth>::sessions_router()),
        )
        .merge(hello_routes())
        .merge(ops::health_routes());
    if let Some(handle) = metrics {
        routes = routes.merge(ops::metrics_routes(&settings.metrics_path, handle));
    }
    let users = FastUsers::new(manager, auth)
        .with_login_throttle(login_throttle(config).await?)
        .behind_proxy(settings.behind_proxy);
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
            .secure(config.settings.cookie_secure),
    );
    let throttle = LoginThrottle::new()
        .per_account(5, window)
        .per_address(300, window)
        .device_tokens(devices);
    Ok(match &config.settings.redis_url {
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

/// `serve`: the API on PORT (and the metrics on METRICS_PORT when set), until SIGTERM or
/// Ctrl-C.
async fn serve(config: Config, manager: UserManager<User>) -> Result<(), String> {
    let settings = &config.settings;
    let metrics = ops::install_metrics()?;
    let on_api_port = settings.metrics_port.is_none().then(|| metrics.clone());
    let app = app(&config, manager, on_api_port).await?;
    let limits = serve::Limits {
        header_read: settings.header_read_timeout,
        request: settings.request_timeout,
        shutdown: settings.shutdown_timeout,
    };
    let app = serve::layers(app, limits);
    let addr = SocketAddr::from(([0, 0, 0, 0], settings.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    if let Some(port) = settings.metrics_port {
        let metrics_addr = SocketAddr::from(([0, 0, 0, 0], port));
        let metrics_listener = tokio::net::TcpListener::bind(metrics_addr)
            .await
            .map_err(|e| format!("cannot listen on {metrics_addr} (METRICS_PORT): {e}"))?;
        let router = ops::metrics_router(&settings.metrics_path, metrics);
        tokio::spawn(async move {
            if let Err(error) = axum::serve(metrics_listener, router).await {
                tracing::error!(error = %Report(&error), "the metrics listener stopped");
            }
        });
    }
    tracing::info!(
        "fastusers quickstart listening on http://{addr} (database: {}, redis: {}, email: {}, metrics: {})",
        redacted(&settings.database_url),
        settings.redis_url.as_deref().map_or("off".into(), redacted),
        mail_target(settings),
        match settings.metrics_port {
            Some(port) => format!(":{port}{}", settings.metrics_path),
            None => settings.metrics_path.clone(),
        },
    );
    serve::serve(listener, app, limits, serve::shutdown_signal()).await;
    Ok(())
}

/// A URL without its password (`postgres://user:secret@host/db` → `postgres://user:***@host/db`),
/// for the log.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// `schema`: prints the SQL of every table the example needs, for the database named (by
/// default the one of `DATABASE_URL`), without connecting to it.
fn print_schema(database: Option<&str>, database_url: &str) {
    use fastusers::store::Dialect;
    let dialect = match database {
        Some("sqlite") => Dialect::Sqlite,
        Some(_) => Dialect::Postgres,
        None if database_url.starts_with("sqlite:") => Dialect::Sqlite,
        None => Dialect::Postgres,
    };
    print!("{}", fastusers::store::schema_sql::<User>(dialect));
}

async fn run() -> Result<(), String> {
    let cli = cli::Cli::parse_all();
    init_logging(&cli.settings.log_format);
    let config = Config::new(cli.settings)?;
    // Each command connects to what it needs (a command that prints SQL needs no database).
    match cli.command.unwrap_or(cli::Command::Serve) {
        cli::Command::Serve => {
            let manager = manager(&config).await?;
            serve(config, manager).await
        }
        cli::Command::CreateSuperuser { email, password } => {
            create_superuser(&manager(&config).await?, &email, &password).await
        }
        cli::Command::Promote { email } => promote(&manager(&config).await?, &email).await,
        cli::Command::Schema { database } => {
            print_schema(database.as_deref(), &config.settings.database_url);
            Ok(())
        }
    }
}

/// The log on stderr, at RUST_LOG's level (default `info`), as text or one JSON object per
/// line with the request's span (`method`, `route`, `status`, `user_id`).
fn init_logging(format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // Colours only on a terminal: a log file is grepped.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if format == "json" {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
