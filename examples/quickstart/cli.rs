//! The command line: `quickstart [SETTINGS] [COMMAND]`. Every setting is an option that is
//! also read from its environment variable (the option wins); `quickstart --help` lists them
//! all, `quickstart COMMAND --help` one command's arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

/// fastusers' quickstart: fastapi-users' HTTP API for user registration, login and
/// management, as a ready-made auth service (SQLite or PostgreSQL, optional Redis, SMTP and
/// OAuth).
#[derive(Debug, Parser)]
#[command(name = "quickstart", version, max_term_width = 100)]
pub(crate) struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    /// The settings, read from the environment when not given.
    #[command(flatten)]
    pub(crate) settings: Settings,
}

impl Cli {
    /// The command line and environment, or the process exits with clap's message (and 0 for
    /// `--help` and `--version`). An environment variable set to the empty string counts as
    /// unset (`OUTBOX= quickstart` writes the emails to the console), as before clap.
    pub(crate) fn parse_all() -> Self {
        let command = Self::command().mut_args(|arg| {
            let empty = arg
                .get_env()
                .and_then(std::env::var_os)
                .is_some_and(|value| value.is_empty());
            if empty { arg.env(None::<&str>) } else { arg }
        });
        let matches = command.get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve the API, the OpenAPI document (/openapi.json, /docs), the browser page (/),
    /// /health, /ready and the metrics (the default).
    Serve,
    /// Create a verified superuser.
    CreateSuperuser {
        /// The new user's email address.
        email: String,
        /// The new user's password.
        password: String,
    },
    /// Make an existing user a superuser.
    Promote {
        /// The user's email address.
        email: String,
    },
    /// Print the SQL of every table the example needs, without connecting: for migrations
    /// kept in your own repository.
    Schema {
        /// The database: `sqlite` or `postgres` (default: the one of DATABASE_URL).
        #[arg(value_parser = ["sqlite", "postgres"])]
        database: Option<String>,
    },
}

/// Every setting. Booleans take true/false (also yes/no, on/off, 1/0); an empty
/// environment variable counts as unset.
#[derive(Debug, Args)]
#[command(next_help_heading = "Settings (each also read from its environment variable)")]
pub(crate) struct Settings {
    /// The user database: `sqlite:PATH` or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:fastusers.db",
        global = true,
        hide_env_values = true
    )]
    pub(crate) database_url: String,
    /// Signs every token, as fastapi-users' SECRET does; at least 32 bytes. Unset: a random
    /// one, so tokens die with the process.
    #[arg(long, env = "SECRET", global = true, hide_env_values = true)]
    pub(crate) secret: Option<String>,
    /// Accept a SECRET shorter than 32 bytes.
    #[arg(long, env = "ALLOW_WEAK_SECRET", default_value_t = false, value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, global = true)]
    pub(crate) allow_weak_secret: bool,
    /// The port to listen on (all addresses).
    #[arg(long, env = "PORT", default_value_t = 8000, global = true)]
    pub(crate) port: u16,
    /// Mark the cookies Secure (false: send them over plain HTTP too).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = true, value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, global = true)]
    pub(crate) cookie_secure: bool,
    /// Redis: mounts the Bearer + Redis backend at /auth/redis and counts the login throttle
    /// there (so its limits hold across instances).
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub(crate) redis_url: Option<String>,
    /// A reverse proxy in front sets X-Forwarded-For, -Proto and -Host: the throttle's
    /// client address, the OAuth callback URL and the CSRF check come from them.
    #[arg(long, env = "BEHIND_PROXY", default_value_t = false, value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, global = true)]
    pub(crate) behind_proxy: bool,
    /// Keep a user read by id for at most this many seconds (JWT and Redis requests then skip
    /// the database; every change evicts the user from every instance's cache); 0: no cache.
    #[arg(long, env = "USER_CACHE_SECONDS", value_name = "SECONDS", default_value = "60", value_parser = parse_cache_seconds, global = true)]
    pub(crate) user_cache_seconds: CacheTtl,

    /// Send the verification and reset emails over SMTP: `smtp://user:pass@host:587?tls=required`,
    /// `smtps://...`, `smtp://localhost:25`. Unset: the development outbox.
    #[arg(long, env = "SMTP_URL", global = true, hide_env_values = true)]
    pub(crate) smtp_url: Option<String>,
    /// The emails' sender.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "fastusers quickstart <noreply@localhost>",
        global = true
    )]
    pub(crate) mail_from: String,
    /// Without SMTP_URL, write the emails to this file (else to the console).
    #[arg(long, env = "OUTBOX", value_name = "PATH", global = true)]
    pub(crate) outbox: Option<PathBuf>,
    /// Append each verification and reset token to this file as a JSON line (for tests).
    #[arg(long, env = "MAILBOX", value_name = "PATH", global = true)]
    pub(crate) mailbox: Option<PathBuf>,
    /// Where the emails' links point (`/verify?token=...`, `/reset-password?token=...`).
    /// Default: http://localhost:PORT.
    #[arg(long, env = "FRONTEND_URL", value_name = "URL", global = true)]
    pub(crate) frontend_url: Option<String>,
    /// The lifetime of the access tokens of the refresh-token backends (/auth/app, /auth/page),
    /// in whole seconds; their clients renew them with POST .../refresh.
    #[arg(long, env = "ACCESS_TOKEN_SECONDS", value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub(crate) access_token_seconds: u64,
    /// Send the verification email at registration.
    #[arg(long, env = "VERIFY_ON_REGISTER", default_value_t = false, value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, global = true)]
    pub(crate) verify_on_register: bool,

    /// Google OAuth client id (with GOOGLE_CLIENT_SECRET: mounts /auth/google).
    #[arg(long, env = "GOOGLE_CLIENT_ID", global = true)]
    pub(crate) google_client_id: Option<String>,
    /// Google OAuth client secret.
    #[arg(
        long,
        env = "GOOGLE_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub(crate) google_client_secret: Option<String>,
    /// GitHub OAuth client id (with GITHUB_CLIENT_SECRET: mounts /auth/github).
    #[arg(long, env = "GITHUB_CLIENT_ID", global = true)]
    pub(crate) github_client_id: Option<String>,
    /// GitHub OAuth client secret.
    #[arg(
        long,
        env = "GITHUB_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub(crate) github_client_secret: Option<String>,
    /// Any OpenID Connect provider, found by discovery (with OAUTH_CLIENT_ID and
    /// OAUTH_CLIENT_SECRET: mounts /auth/OAUTH_NAME).
    #[arg(long, env = "OAUTH_ISSUER", value_name = "URL", global = true)]
    pub(crate) oauth_issuer: Option<String>,
    /// The OpenID Connect provider's name in the routes.
    #[arg(long, env = "OAUTH_NAME", default_value = "oidc", global = true)]
    pub(crate) oauth_name: String,
    /// The OpenID Connect client id.
    #[arg(long, env = "OAUTH_CLIENT_ID", global = true)]
    pub(crate) oauth_client_id: Option<String>,
    /// The OpenID Connect client secret.
    #[arg(
        long,
        env = "OAUTH_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub(crate) oauth_client_secret: Option<String>,
    /// Where /auth/NAME-cookie/callback redirects after the login.
    #[arg(
        long,
        env = "OAUTH_REDIRECT_AFTER_LOGIN",
        value_name = "URL",
        global = true
    )]
    pub(crate) oauth_redirect_after_login: Option<String>,

    /// Close a connection whose request headers have not all arrived after this many
    /// seconds (slow clients cannot hold connections open).
    #[arg(long, env = "HEADER_READ_TIMEOUT", value_name = "SECONDS", default_value = "10", value_parser = parse_seconds, global = true)]
    pub(crate) header_read_timeout: Duration,
    /// Answer 408 to a request not handled within this many seconds, body included.
    #[arg(long, env = "REQUEST_TIMEOUT", value_name = "SECONDS", default_value = "30", value_parser = parse_seconds, global = true)]
    pub(crate) request_timeout: Duration,
    /// On SIGTERM or Ctrl-C, wait at most this many seconds for the requests in flight.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", value_name = "SECONDS", default_value = "30", value_parser = parse_seconds, global = true)]
    pub(crate) shutdown_timeout: Duration,
    /// The path of the metrics in Prometheus' text format.
    #[arg(long, env = "METRICS_PATH", value_name = "PATH", default_value = "/metrics", value_parser = parse_path, global = true)]
    pub(crate) metrics_path: String,
    /// Serve the metrics on this port (all addresses) instead of on PORT, so that they can
    /// be kept off the public network.
    #[arg(long, env = "METRICS_PORT", global = true)]
    pub(crate) metrics_port: Option<u16>,
    /// The log's format: `text` or `json` (one object per line, with the request's span).
    /// Its level comes from RUST_LOG (default `info`).
    #[arg(long, env = "LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub(crate) log_format: String,
}

/// A positive number of seconds (fractions allowed).
fn parse_seconds(value: &str) -> Result<Duration, String> {
    match value.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "expected a positive number of seconds, not `{value}`"
        )),
    }
}

/// How long the user cache keeps a user; `None`: no cache.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheTtl(pub(crate) Option<Duration>);

/// [`parse_seconds`], or 0 for none.
fn parse_cache_seconds(value: &str) -> Result<CacheTtl, String> {
    match value.parse::<f64>() {
        Ok(0.0) => Ok(CacheTtl(None)),
        _ => parse_seconds(value).map(|ttl| CacheTtl(Some(ttl))),
    }
}

/// A path of the server: `/something`.
fn parse_path(value: &str) -> Result<String, String> {
    if value.starts_with('/') && value.len() > 1 && !value.contains(['?', '#', '{', '}']) {
        Ok(value.to_owned())
    } else {
        Err(format!("expected a path such as /metrics, not `{value}`"))
    }
}
