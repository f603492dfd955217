//! Opaque tokens kept in Redis.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncCommands, Cmd, RedisFuture, Value};

use super::{Session, Strategy, StrategyError};
use crate::manager::UserManager;
use crate::revocation;
use crate::token;
use crate::user::{User, UserId};

/// Opaque tokens in Redis: 32 random bytes (43 URL-safe characters), each kept under
/// `fastapi_users_token:<stored form>` with the user's id as value and the lifetime as TTL;
/// logout deletes the key. The [stored form](crate::token::stored_form) is a hash of the
/// token: whoever reads Redis gets no usable session. fastapi-users keeps its tokens in clear,
/// under `fastapi_users_token:<token>`: a token not found by its hash is looked up as it is, and
/// such a key is moved to the hash (with its TTL) at its first use.
///
/// Each user also has a sorted set `<prefix>user:<id>` of their tokens' stored forms, scored by creation
/// time (seconds with a microsecond fraction), for listing sessions and revoking them all, and
/// to refuse the tokens made at or before the user's revocation time (see
/// [`crate::revocation`]): a token that Redis still holds after a revocation (Redis was down
/// when its tokens were to be deleted) is refused, and deleted, when presented. That check costs
/// one more command, and only for a user revoked less than a lifetime ago (or, without a
/// lifetime, for any revoked user); a token missing from the index (made by fastapi-users) is
/// refused when it is needed. One multiplexed connection serves every
/// request and reconnects by itself after Redis restarts; while Redis is down, requests that
/// need it get a 503.
///
/// On a single server, the writes of one operation (token key and index) are one atomic
/// `MULTI`; on a Redis Cluster ([`connect_cluster`](Self::connect_cluster)) the two keys live in
/// different slots, so they are sent one after the other.
#[derive(Clone)]
pub struct RedisStrategy {
    connection: Connection,
    lifetime_seconds: Option<u64>,
    prefix: String,
}

impl std::fmt::Debug for RedisStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStrategy")
            .field("lifetime_seconds", &self.lifetime_seconds)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A single server or a cluster.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

fn unavailable(error: redis::RedisError) -> StrategyError {
    StrategyError::Unavailable(error.into())
}

/// A connection to `url` that reconnects by itself, whose commands time out after two seconds:
/// what every fastusers use of Redis (the strategy, the login throttle) connects with.
pub(crate) async fn connect_manager(url: &str) -> Result<ConnectionManager, redis::RedisError> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_with_config(client, config).await
}

impl RedisStrategy {
    /// Connects to `url` (`redis://host:port/db`). Commands time out after two seconds, so a
    /// request never hangs on a dead server.
    pub async fn connect(url: &str, lifetime_seconds: Option<u64>) -> Result<Self, StrategyError> {
        let connection = connect_manager(url).await.map_err(unavailable)?;
        Ok(Self::new(connection, lifetime_seconds))
    }

    /// Connects to a Redis Cluster through any of its nodes (`redis://host:port`).
    pub async fn connect_cluster(
        nodes: &[&str],
        lifetime_seconds: Option<u64>,
    ) -> Result<Self, StrategyError> {
        let client = redis::cluster::ClusterClientBuilder::new(nodes.iter().copied())
            .connection_timeout(Duration::from_secs(2))
            .response_timeout(Duration::from_secs(2))
            .retries(2)
            .build()
            .map_err(unavailable)?;
        let connection = client.get_async_connection().await.map_err(unavailable)?;
        Ok(Self::with_connection(
            Connection::Cluster(connection),
            lifetime_seconds,
        ))
    }

    /// A strategy on an existing connection manager.
    pub fn new(connection: ConnectionManager, lifetime_seconds: Option<u64>) -> Self {
        Self::with_connection(Connection::Single(connection), lifetime_seconds)
    }

    fn with_connection(connection: Connection, lifetime_seconds: Option<u64>) -> Self {
        Self {
            connection,
            lifetime_seconds,
            prefix: "fastapi_users_token:".to_owned(),
        }
    }

    /// Runs the commands of one operation: atomically on a single server, one by one on a
    /// cluster (where the keys may live in different slots).
    async fn run(&self, commands: Vec<Cmd>) -> Result<(), StrategyError> {
        let mut conn = self.connection.clone();
        match &self.connection {
            Connection::Single(_) => {
                let mut pipe = redis::pipe();
                pipe.atomic();
                for command in commands {
                    pipe.add_command(command).ignore();
                }
                let _: () = pipe.query_async(&mut conn).await.map_err(unavailable)?;
            }
            Connection::Cluster(_) => {
                for command in commands {
                    let _: Value = command.query_async(&mut conn).await.map_err(unavailable)?;
                }
            }
        }
        Ok(())
    }

    /// Whether Redis answers (`PING`, bounded by the connection's two-second response
    /// timeout): a readiness check (the quickstart's `GET /ready`).
    pub async fn ping(&self) -> Result<(), StrategyError> {
        let mut conn = self.connection.clone();
        let _: Value = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Uses this key prefix instead of `fastapi_users_token:`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The key of a token: its stored form (or, for a token fastapi-users stored, the token
    /// itself) after the prefix.
    fn token_key(&self, stored: &str) -> String {
        format!("{}{stored}", self.prefix)
    }

    fn index_key(&self, id: &impl std::fmt::Display) -> String {
        format!("{}user:{id}", self.prefix)
    }

    /// The user id of a token that fastapi-users (or an older fastusers) stored in clear, whose
    /// key (and index entry, if any) move to the token's stored form on the way, with their
    /// TTL and score.
    async fn adopt_clear_token(
        &self,
        token: &str,
        stored: &str,
    ) -> Result<Option<String>, StrategyError> {
        let mut conn = self.connection.clone();
        let clear = self.token_key(token);
        let id: Option<String> = conn.get(&clear).await.map_err(unavailable)?;
        let Some(id) = id else {
            return Ok(None);
        };
        // Milliseconds left; -1 without expiry, -2 when a concurrent request moved it first.
        let ttl: i64 = conn.pttl(&clear).await.map_err(unavailable)?;
        if ttl == -2 {
            return Ok(Some(id));
        }
        let index = self.index_key(&id);
        let score: Option<f64> = conn.zscore(&index, token).await.map_err(unavailable)?;
        let mut set = redis::cmd("SET");
        set.arg(self.token_key(stored)).arg(&id);
        if ttl > 0 {
            set.arg("PX").arg(ttl);
        }
        let mut commands = vec![set, redis::cmd("DEL").arg(&clear).clone()];
        if let Some(score) = score {
            commands.push(
                redis::cmd("ZADD")
                    .arg(&index)
                    .arg(score)
                    .arg(stored)
                    .clone(),
            );
            commands.push(redis::cmd("ZREM").arg(&index).arg(token).clone());
        }
        self.run(commands).await?;
        Ok(Some(id))
    }

    /// Deletes the token under this stored form, and its index entry.
    async fn destroy_stored<I: UserId>(&self, stored: &str, id: &I) -> Result<(), StrategyError> {
        self.run(vec![
            redis::cmd("DEL").arg(self.token_key(stored)).clone(),
            redis::cmd("ZREM")
                .arg(self.index_key(id))
                .arg(stored)
                .clone(),
        ])
        .await
    }

    /// Tokens of the user's index that are still alive, with their creation times.
    async fn live_tokens<U: User>(&self, user: &U) -> Result<Vec<(String, u64)>, StrategyError> {
        let mut conn = self.connection.clone();
        let index = self.index_key(user.id());
        if let Some(lifetime) = self.lifetime_seconds {
            let oldest = token::now().saturating_sub(lifetime);
            let _: () = conn
                .zrembyscore(&index, "-inf", format!("({oldest}"))
                .await
                .map_err(unavailable)?;
        }
        let entries: Vec<(String, f64)> = conn
            .zrange_withscores(&index, 0, -1)
            .await
            .map_err(unavailable)?;
        Ok(entries
            .into_iter()
            .map(|(t, score)| (t, score as u64))
            .collect())
    }
}

impl<U: User> Strategy<U> for RedisStrategy {
    async fn read_token(
        &self,
        token: &str,
        manager: &UserManager<U>,
    ) -> Result<Option<U>, StrategyError> {
        if !token::is_opaque(token) {
            return Ok(None);
        }
        let mut conn = self.connection.clone();
        let stored = token::stored_form(token);
        let id: Option<String> = conn
            .get(self.token_key(&stored))
            .await
            .map_err(unavailable)?;
        let id = match id {
            Some(id) => Some(id),
            None => self.adopt_clear_token(token, &stored).await?,
        };
        let Some(id) = id.as_deref().and_then(U::Id::parse) else {
            return Ok(None);
        };
        let Some(found) = manager.get_revocable(&id).await? else {
            return Ok(None);
        };
        let Some(revoked_at) = found.revoked_at else {
            return Ok(Some(found.user));
        };
        // Every live token is younger than one lifetime: a revocation older than that concerns
        // none of them.
        let oldest_alive = self
            .lifetime_seconds
            .and_then(|lifetime| chrono::Duration::try_seconds(i64::try_from(lifetime).ok()?))
            .and_then(|lifetime| revocation::now().checked_sub_signed(lifetime));
        if oldest_alive.is_some_and(|oldest| revoked_at < oldest) {
            return Ok(Some(found.user));
        }
        let score: Option<f64> = conn
            .zscore(self.index_key(&id), &stored)
            .await
            .map_err(unavailable)?;
        if found.admits(score.and_then(revocation::from_seconds)) {
            return Ok(Some(found.user));
        }
        // Revoked while Redis was out of reach: it goes now.
        if let Err(error) = self.destroy_stored(&stored, &id).await {
            tracing::debug!(%error, "could not delete a revoked Redis token");
        }
        Ok(None)
    }

    async fn write_token(&self, user: &U) -> Result<String, StrategyError> {
        let token = token::random_token();
        let stored = token::stored_form(&token);
        let created_at = revocation::to_seconds(revocation::now());
        let index = self.index_key(user.id());
        let id = user.id().to_string();
        let mut commands = Vec::with_capacity(3);
        match self.lifetime_seconds {
            Some(lifetime) => {
                commands.push(
                    redis::cmd("SET")
                        .arg(self.token_key(&stored))
                        .arg(&id)
                        .arg("EX")
                        .arg(lifetime)
                        .clone(),
                );
                commands.push(
                    redis::cmd("ZADD")
                        .arg(&index)
                        .arg(created_at)
                        .arg(&stored)
                        .clone(),
                );
                commands.push(redis::cmd("EXPIRE").arg(&index).arg(lifetime).clone());
            }
            None => {
                commands.push(
                    redis::cmd("SET")
                        .arg(self.token_key(&stored))
                        .arg(&id)
                        .clone(),
                );
                commands.push(
                    redis::cmd("ZADD")
                        .arg(&index)
                        .arg(created_at)
                        .arg(&stored)
                        .clone(),
                );
            }
        }
        self.run(commands).await?;
        Ok(token)
    }

    fn lifetime_seconds(&self) -> Option<u64> {
        self.lifetime_seconds
    }

    async fn destroy_token(&self, token: &str, user: &U) -> Result<(), StrategyError> {
        // A clear key was moved when the token was read, before its logout.
        self.destroy_stored(&token::stored_form(token), user.id())
            .await
    }

    async fn revoke_all(&self, user: &U) -> Result<(), StrategyError> {
        let mut conn = self.connection.clone();
        let index = self.index_key(user.id());
        let tokens: Vec<String> = conn.zrange(&index, 0, -1).await.map_err(unavailable)?;
        let mut commands: Vec<Cmd> = tokens
            .iter()
            .map(|t| redis::cmd("DEL").arg(self.token_key(t)).clone())
            .collect();
        commands.push(redis::cmd("DEL").arg(&index).clone());
        self.run(commands).await
    }

    async fn sessions(&self, user: &U) -> Result<Option<Vec<Session>>, StrategyError> {
        let live = self.live_tokens(user).await?;
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
        let live = self.live_tokens(user).await?;
        match live.iter().find(|(t, _)| Session::id_of(t) == id) {
            Some((stored, _)) => {
                self.destroy_stored(stored, user.id()).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
