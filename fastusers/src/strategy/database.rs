//! Opaque tokens kept in the database's access-token table.

use std::sync::Arc;
use std::time::Duration;

use super::{Session, Strategy, StrategyError};
use crate::manager::UserManager;
use crate::store::{AccessTokenStore, StoreError};
use crate::token;
use crate::user::User;

/// Opaque tokens in the `accesstoken` table (`token`, `created_at`, `user_id` with
/// `ON DELETE CASCADE`), fastapi-users' schema. A token lives `lifetime_seconds` from its
/// creation (no sliding); logout deletes its row.
///
/// The `token` column holds each token's [stored form](crate::token::stored_form), a hash:
/// whoever reads the table gets no usable session. A row that fastapi-users wrote holds its
/// token in clear: a token not found by its hash is looked up as it is, and such a row is
/// rewritten as the hash at its first use.
///
/// Expired rows are purged when a request presents one, and by a sweep every ten minutes
/// (change it with [`sweep_every`](Self::sweep_every), `None` turns it off). A token made at or
/// before its user's revocation time is refused, and its row deleted (see
/// [`crate::revocation`]).
pub struct DatabaseStrategy<U: User> {
    tokens: Arc<dyn AccessTokenStore<U>>,
    lifetime_seconds: Option<u64>,
    sweeper: Option<Arc<Sweeper>>,
}

impl<U: User> Clone for DatabaseStrategy<U> {
    fn clone(&self) -> Self {
        Self {
            tokens: self.tokens.clone(),
            lifetime_seconds: self.lifetime_seconds,
            sweeper: self.sweeper.clone(),
        }
    }
}

impl<U: User> std::fmt::Debug for DatabaseStrategy<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseStrategy")
            .field("lifetime_seconds", &self.lifetime_seconds)
            .field("sweeping", &self.sweeper.is_some())
            .finish_non_exhaustive()
    }
}

/// Stops the sweep task when the last clone of the strategy is dropped.
#[derive(Debug)]
struct Sweeper(tokio::task::JoinHandle<()>);

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn store_error(error: StoreError) -> StrategyError {
    StrategyError::Store(error)
}

impl<U: User> DatabaseStrategy<U> {
    /// Tokens in the store's access-token table.
    ///
    /// Fails when the store keeps no tokens (a custom [`UserStore`](crate::UserStore) that does
    /// not implement [`access_tokens`](crate::UserStore::access_tokens)).
    pub fn new(
        store: &dyn crate::UserStore<U>,
        lifetime_seconds: Option<u64>,
    ) -> Result<Self, StrategyError> {
        let tokens = store
            .access_tokens()
            .ok_or_else(|| StrategyError::Issue("this user store keeps no access tokens".into()))?;
        Ok(Self {
            tokens,
            lifetime_seconds,
            sweeper: None,
        }
        .sweep_every(Some(Duration::from_secs(600))))
    }

    /// Purges expired tokens at this interval (`None`: never; they are still purged on read).
    /// Needs a tokio runtime when an interval is given.
    pub fn sweep_every(mut self, interval: Option<Duration>) -> Self {
        self.sweeper = match (
            interval,
            self.lifetime_seconds,
            tokio::runtime::Handle::try_current(),
        ) {
            (Some(interval), Some(lifetime), Ok(runtime)) => {
                let tokens = self.tokens.clone();
                Some(Arc::new(Sweeper(runtime.spawn(async move {
                    let mut ticker = tokio::time::interval(interval);
                    ticker.tick().await;
                    loop {
                        ticker.tick().await;
                        match tokens.purge_expired(lifetime).await {
                            Ok(n) if n > 0 => {
                                tracing::debug!(purged = n, "expired access tokens purged")
                            }
                            Ok(_) => {}
                            Err(error) => {
                                tracing::warn!(error = %crate::error::Report(&error), "could not purge expired access tokens")
                            }
                        }
                    }
                }))))
            }
            _ => None,
        };
        self
    }

    /// Deletes every expired token now; how many.
    pub async fn purge_expired(&self) -> Result<u64, StrategyError> {
        match self.lifetime_seconds {
            Some(lifetime) => self
                .tokens
                .purge_expired(lifetime)
                .await
                .map_err(store_error),
            None => Ok(0),
        }
    }
}

impl<U: User> Strategy<U> for DatabaseStrategy<U> {
    async fn read_token(
        &self,
        token: &str,
        _manager: &UserManager<U>,
    ) -> Result<Option<U>, StrategyError> {
        if !token::is_opaque(token) {
            return Ok(None);
        }
        let stored = token::stored_form(token);
        let lifetime = self.lifetime_seconds;
        if let Some(user) = self
            .tokens
            .user_by_token(&stored, lifetime)
            .await
            .map_err(store_error)?
        {
            return Ok(Some(user));
        }
        // A row that fastapi-users wrote, with the token in clear: it is rewritten as its
        // stored form, so that the table holds it in clear no longer.
        let Some(user) = self
            .tokens
            .user_by_token(token, lifetime)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        self.tokens
            .rekey(token, &stored)
            .await
            .map_err(store_error)?;
        Ok(Some(user))
    }

    async fn write_token(&self, user: &U) -> Result<String, StrategyError> {
        let token = token::random_token();
        self.tokens
            .create(&token::stored_form(&token), user.id())
            .await
            .map_err(store_error)?;
        Ok(token)
    }

    fn lifetime_seconds(&self) -> Option<u64> {
        self.lifetime_seconds
    }

    async fn destroy_token(&self, token: &str, _user: &U) -> Result<(), StrategyError> {
        // A clear row was rewritten when the token was read, before its logout.
        self.tokens
            .delete(&token::stored_form(token))
            .await
            .map_err(store_error)
    }

    async fn revoke_all(&self, user: &U) -> Result<(), StrategyError> {
        self.tokens
            .delete_for_user(user.id())
            .await
            .map_err(store_error)
    }

    async fn sessions(&self, user: &U) -> Result<Option<Vec<Session>>, StrategyError> {
        let live = self
            .tokens
            .list_for_user(user.id(), self.lifetime_seconds)
            .await
            .map_err(store_error)?;
        Ok(Some(
            live.iter()
                .map(|(t, created)| Session {
                    id: Session::id_of(t),
                    created_at: *created,
                })
                .collect(),
        ))
    }

    async fn revoke_session(&self, user: &U, id: &str) -> Result<bool, StrategyError> {
        let live = self
            .tokens
            .list_for_user(user.id(), self.lifetime_seconds)
            .await
            .map_err(store_error)?;
        match live.iter().find(|(t, _)| Session::id_of(t) == id) {
            Some((token, _)) => {
                self.tokens.delete(token).await.map_err(store_error)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
