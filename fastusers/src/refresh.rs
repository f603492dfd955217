//! Refresh tokens with rotation and reuse detection, as the OAuth 2.0 Security Best Current
//! Practice (RFC 9700, section 4.14) describes them.
//!
//! A backend declared with `refresh` in `auth_backends!` (`app: BearerTransport, JwtStrategy,
//! refresh;`) holds a [`RefreshTokens`]: its login also issues a refresh token, and its router
//! has `POST /refresh`, which exchanges one for a new access token and a new refresh token.
//!
//! - **Rotation**: each refresh token is single-use. The tokens descended from one login form a
//!   *family*; presenting a token that was already exchanged (after the grace period) means two
//!   parties hold it, so the whole family is revoked and the `on_refresh_token_reuse` hook runs.
//! - **Grace period**: two tabs refreshing with the same token at the same moment both
//!   succeed, with the same successor, when the second comes within
//!   [`grace_period`](RefreshTokens::grace_period) of the first (default 10 seconds). The
//!   successor is kept sealed with the token it replaced (XOR with a SHA-256 of that token), so
//!   only a holder of the old token can open it, and the store still holds no usable token.
//! - **Lifetimes**: a family lives at most [`absolute_lifetime`](RefreshTokens::absolute_lifetime)
//!   from its login (default 30 days), and dies when its live token goes unused for
//!   [`idle_lifetime`](RefreshTokens::idle_lifetime) (default 14 days). Expired families are
//!   purged when presented and by a sweep every ten minutes.
//! - **Storage**: the store's `fastusers_refresh_token` table (SQLite, PostgreSQL), keyed by the
//!   tokens' [stored forms](crate::token::stored_form), never the tokens.
//! - **Revocation**: a family whose login is at or before the user's revocation time (a
//!   password change or reset, a deactivation, log-out-everywhere: see [`crate::revocation`])
//!   is dead; deleting the user deletes their families.
//! - **`auth_time`**: the login's time is kept across refreshes and given to the strategy, so
//!   that a JWT carries it as its `auth_time` claim.
//!
//! Time comes from a [`Clock`], which a test can replace.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::manager::UserManager;
use crate::revocation::{self, Timestamp};
use crate::store::{RefreshRow, RefreshTokenStore, StoreError};
use crate::strategy::StrategyError;
use crate::token;
use crate::user::User;

/// Where refresh tokens get the time: [`revocation::now`] unless a test gives its own.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The refresh tokens of a backend: their store, lifetimes, grace period and clock.
///
/// ```no_run
/// # use fastusers::prelude::*;
/// # #[derive(User, Clone, Debug)]
/// # pub struct User { pub id: uuid::Uuid, pub email: String, pub hashed_password: String,
/// #     pub is_active: bool, pub is_superuser: bool, pub is_verified: bool }
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use fastusers::refresh::RefreshTokens;
///
/// let store = fastusers::store::connect::<User>("sqlite::memory:").await?;
/// let refresh = RefreshTokens::new(store.as_ref())?
///     .idle_lifetime(Duration::from_secs(7 * 24 * 3600))
///     .absolute_lifetime(Duration::from_secs(30 * 24 * 3600));
/// # let _ = refresh; Ok(()) }
/// ```
pub struct RefreshTokens<U: User> {
    store: Arc<dyn RefreshTokenStore<U>>,
    idle: Duration,
    absolute: Duration,
    grace: Duration,
    clock: Clock,
    sweep: Option<Duration>,
    /// Started at the first token issued, when the backend's name is known.
    sweeper: Arc<OnceLock<Sweeper>>,
}

impl<U: User> Clone for RefreshTokens<U> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            idle: self.idle,
            absolute: self.absolute,
            grace: self.grace,
            clock: self.clock.clone(),
            sweep: self.sweep,
            sweeper: self.sweeper.clone(),
        }
    }
}

impl<U: User> std::fmt::Debug for RefreshTokens<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokens")
            .field("idle", &self.idle)
            .field("absolute", &self.absolute)
            .field("grace", &self.grace)
            .field("sweep", &self.sweep)
            .finish_non_exhaustive()
    }
}

/// Stops the sweep task when the last clone of the refresh tokens is dropped.
#[derive(Debug)]
struct Sweeper(tokio::task::JoinHandle<()>);

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A refresh token just issued.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IssuedRefresh {
    /// The token, for the client.
    pub token: String,
    /// Seconds the family may still live (until its absolute end): the cookie's `Max-Age`.
    pub max_age: u64,
    /// The time of the login that started the family.
    pub auth_time: Timestamp,
}

/// A refresh token exchanged: the user and their new token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Refreshed<U> {
    /// The user of the family.
    pub user: U,
    /// The successor token (the same one for every exchange within the grace period).
    pub refresh: IssuedRefresh,
}

/// Why a refresh token was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired, revoked, of another backend, or of a user who is gone or inactive:
    /// `400 REFRESH_TOKEN_INVALID`.
    #[error("the refresh token is invalid, expired or revoked")]
    Invalid,
    /// A token already exchanged was presented again after the grace period: its family is now
    /// revoked, and the `on_refresh_token_reuse` hook was called. `400 REFRESH_TOKEN_REUSED`.
    #[error("the refresh token was already used: its family is revoked")]
    Reused,
    /// The store failed: a 503.
    #[error("the refresh-token store failed")]
    Store(#[from] StoreError),
}

/// The default idle lifetime: 14 days.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(14 * 24 * 3600);
/// The default absolute lifetime: 30 days.
pub const DEFAULT_ABSOLUTE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The default grace period: 10 seconds.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

fn span(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// The pad that seals a successor: the SHA-256 of the token it replaces, under its own label
/// (so that it is not the token's stored form).
fn pad(token: &str) -> [u8; 32] {
    use sha2::Digest as _;
    let mut digest = sha2::Sha256::new();
    digest.update(b"fastusers refresh successor\0");
    digest.update(token.as_bytes());
    digest.finalize().into()
}

fn xor_b64(token: &str, value: &str) -> Option<String> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bytes = engine.decode(value).ok()?;
    if bytes.len() != 32 {
        return None;
    }
    let pad = pad(token);
    let mixed: Vec<u8> = bytes.iter().zip(pad).map(|(b, p)| b ^ p).collect();
    Some(engine.encode(mixed))
}

/// `successor` sealed with `token`: only a holder of `token` can [`unseal`] it.
fn seal(token: &str, successor: &str) -> String {
    xor_b64(token, successor).expect("a random token is 32 bytes of base64")
}

fn unseal(token: &str, sealed: &str) -> Option<String> {
    xor_b64(token, sealed)
}

impl<U: User> RefreshTokens<U> {
    /// Refresh tokens in the store's `fastusers_refresh_token` table.
    ///
    /// Fails when the store keeps no refresh tokens (a custom
    /// [`UserStore`](crate::UserStore) that does not implement
    /// [`refresh_tokens`](crate::UserStore::refresh_tokens)).
    pub fn new(store: &dyn crate::UserStore<U>) -> Result<Self, StrategyError> {
        let tokens = store.refresh_tokens().ok_or_else(|| {
            StrategyError::Issue("this user store keeps no refresh tokens".into())
        })?;
        Ok(Self::on(tokens))
    }

    /// Refresh tokens in this store.
    pub fn on(store: Arc<dyn RefreshTokenStore<U>>) -> Self {
        Self {
            store,
            idle: DEFAULT_IDLE,
            absolute: DEFAULT_ABSOLUTE,
            grace: DEFAULT_GRACE,
            clock: Arc::new(revocation::now),
            sweep: Some(Duration::from_secs(600)),
            sweeper: Arc::new(OnceLock::new()),
        }
    }

    /// A family dies when its live token goes unused this long (default 14 days).
    pub fn idle_lifetime(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// A family dies this long after its login, however it is used (default 30 days).
    pub fn absolute_lifetime(mut self, absolute: Duration) -> Self {
        self.absolute = absolute;
        self
    }

    /// How long after a token's exchange presenting it again still gives its successor
    /// instead of revoking its family (default 10 seconds; zero turns the grace off).
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Takes the time from `clock` (a test's, to expire tokens without waiting).
    pub fn clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Purges expired families at this interval (`None`: never; they are still purged when
    /// presented). The sweep starts with the first token issued.
    pub fn sweep_every(mut self, interval: Option<Duration>) -> Self {
        self.sweep = interval;
        self
    }

    /// The idle lifetime.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// The absolute lifetime.
    pub fn absolute(&self) -> Duration {
        self.absolute
    }

    fn now(&self) -> Timestamp {
        (self.clock)()
    }

    fn start_sweep(&self, backend: &'static str) {
        let Some(interval) = self.sweep else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.sweeper.get_or_init(|| {
            let this = Self {
                sweeper: Arc::new(OnceLock::new()),
                ..self.clone()
            };
            Sweeper(runtime.spawn(async move {
                let mut ticker = tokio::time::interval(interval);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    match this.purge_expired(backend).await {
                        Ok(n) if n > 0 => {
                            tracing::debug!(purged = n, backend, "expired refresh tokens purged")
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(error = %crate::error::Report(&error), backend, "could not purge expired refresh tokens")
                        }
                    }
                }
            }))
        });
    }

    /// Deletes the backend's expired families now; how many tokens.
    pub async fn purge_expired(&self, backend: &str) -> Result<u64, StoreError> {
        let now = self.now();
        self.store
            .purge(backend, now - span(self.absolute), now - span(self.idle))
            .await
    }

    fn issued(&self, token: String, auth_time: Timestamp, now: Timestamp) -> IssuedRefresh {
        let end = auth_time + span(self.absolute);
        IssuedRefresh {
            token,
            max_age: (end - now).num_seconds().max(0) as u64,
            auth_time,
        }
    }

    /// Starts a family for `user`, logged in now through `backend` (its name): the first
    /// refresh token.
    pub async fn issue(
        &self,
        backend: &'static str,
        user: &U,
    ) -> Result<IssuedRefresh, StoreError> {
        self.start_sweep(backend);
        let now = self.now();
        let token = token::random_token();
        self.store
            .insert(&RefreshRow {
                token: token::stored_form(&token),
                family: token::random_token(),
                parent: None,
                user_id: user.id().clone(),
                backend: backend.to_owned(),
                auth_time: now,
                created_at: now,
                rotated_at: None,
                successor: None,
            })
            .await?;
        Ok(self.issued(token, now, now))
    }

    /// Exchanges `token`, presented to `backend`, for its successor: see the
    /// [module](self) for the rules. The caller issues the new access token. A reuse calls
    /// the manager's `on_refresh_token_reuse` hook with `request`.
    pub async fn refresh(
        &self,
        backend: &str,
        token: &str,
        manager: &UserManager<U>,
        request: crate::hooks::RequestInfo<'_>,
    ) -> Result<Refreshed<U>, RefreshError> {
        if !token::is_opaque(token) {
            return Err(RefreshError::Invalid);
        }
        let stored = token::stored_form(token);
        // Twice at most: a call that loses the race to rotate reads the winner's row again.
        for _ in 0..2 {
            let now = self.now();
            let Some(row) = self.store.find(&stored).await? else {
                return Err(RefreshError::Invalid);
            };
            if row.backend != backend {
                return Err(RefreshError::Invalid);
            }
            let dead = row.auth_time + span(self.absolute) <= now
                || (row.rotated_at.is_none() && row.created_at + span(self.idle) <= now);
            let user = manager
                .get_revocable(&row.user_id)
                .await
                .map_err(|e| match e {
                    crate::manager::UserError::Store(e) => RefreshError::Store(e),
                    _ => RefreshError::Invalid,
                })?;
            let user = match user {
                Some(user) if !dead && user.admits(Some(row.auth_time)) => user.user,
                _ => {
                    self.store.delete_family(&row.family).await?;
                    return Err(RefreshError::Invalid);
                }
            };
            if !user.is_active() {
                return Err(RefreshError::Invalid);
            }
            match (row.rotated_at, row.successor.as_deref()) {
                (None, _) => {
                    let next = token::random_token();
                    let sealed = seal(token, &next);
                    let next_row = RefreshRow {
                        token: token::stored_form(&next),
                        family: row.family.clone(),
                        parent: Some(stored.clone()),
                        user_id: row.user_id.clone(),
                        backend: row.backend.clone(),
                        auth_time: row.auth_time,
                        created_at: now,
                        rotated_at: None,
                        successor: None,
                    };
                    if self.store.rotate(&stored, now, &sealed, &next_row).await? {
                        return Ok(Refreshed {
                            user,
                            refresh: self.issued(next, row.auth_time, now),
                        });
                    }
                }
                (Some(at), Some(sealed)) if now - at <= span(self.grace) => {
                    let next = unseal(token, sealed).ok_or(RefreshError::Invalid)?;
                    return Ok(Refreshed {
                        user,
                        refresh: self.issued(next, row.auth_time, now),
                    });
                }
                (Some(_), _) => {
                    self.store.delete_family(&row.family).await?;
                    manager.hooks().on_refresh_token_reuse(&user, request).await;
                    return Err(RefreshError::Reused);
                }
            }
        }
        Err(RefreshError::Invalid)
    }

    /// Revokes the family of `token`, a token of `backend` (its name); whether there was one.
    pub async fn revoke(&self, backend: &str, token: &str) -> Result<bool, StoreError> {
        if !token::is_opaque(token) {
            return Ok(false);
        }
        match self.store.find(&token::stored_form(token)).await? {
            Some(row) if row.backend == backend => {
                Ok(self.store.delete_family(&row.family).await? > 0)
            }
            _ => Ok(false),
        }
    }

    /// The user's live families: their live tokens, one per family.
    pub async fn families(&self, user: &U) -> Result<Vec<RefreshRow<U::Id>>, StoreError> {
        let now = self.now();
        Ok(self
            .store
            .live_for_user(user.id())
            .await?
            .into_iter()
            .filter(|row| {
                row.auth_time + span(self.absolute) > now && row.created_at + span(self.idle) > now
            })
            .collect())
    }

    /// Revokes the user's family with this id; whether there was one.
    pub async fn revoke_family(&self, user: &U, family: &str) -> Result<bool, StoreError> {
        let owned = self
            .store
            .live_for_user(user.id())
            .await?
            .iter()
            .any(|row| row.family == family);
        if !owned {
            return Ok(false);
        }
        Ok(self.store.delete_family(family).await? > 0)
    }

    /// Deletes every family of the user.
    pub async fn revoke_all(&self, user: &U) -> Result<(), StoreError> {
        self.store.delete_for_user(user.id()).await
    }
}

/// A backend's refresh tokens, or none: what `Backend`'s third parameter is. Implemented by
/// [`NoRefresh`] (a backend without `refresh`) and [`RefreshTokens`].
pub trait Refresh<U: User>: Send + Sync + 'static {
    /// The refresh tokens, if the backend has them.
    fn tokens(&self) -> Option<&RefreshTokens<U>>;
}

/// A backend without refresh tokens.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRefresh;

impl<U: User> Refresh<U> for NoRefresh {
    fn tokens(&self) -> Option<&RefreshTokens<U>> {
        None
    }
}

impl<U: User> Refresh<U> for RefreshTokens<U> {
    fn tokens(&self) -> Option<&RefreshTokens<U>> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_successor_opens_with_its_parent_only() {
        let (parent, next) = (token::random_token(), token::random_token());
        let sealed = seal(&parent, &next);
        assert_ne!(sealed, next);
        assert_eq!(unseal(&parent, &sealed).as_deref(), Some(next.as_str()));
        assert_ne!(unseal(&token::random_token(), &sealed), Some(next));
    }
}
