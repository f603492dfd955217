//! PostgreSQL's `LISTEN`/`NOTIFY` as a cache channel: triggers notify every change to a user or
//! to their revocation time, in the transaction that makes it; each cache listens.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

use super::{BoxError, Change, Remote, Subscription};

/// The notification channel; the payload is the user's id as text (empty: every user).
const CHANNEL: &str = "fastusers_user_changed";

/// The `application_name` of the listening connections, to find them in `pg_stat_activity`.
pub(super) const APPLICATION_NAME: &str = "fastusers user cache";

/// Created by `SqlStore::migrate` after the tables: the trigger function, then the triggers on
/// the user table (found as the table that `fastusers_revocation` references, with the name of
/// its id column, which `#[fastusers(column = "...")]` may have renamed) and on the
/// revocation table. A row trigger notifies the row's user (before and after an update, which
/// PostgreSQL folds into one when the id did not change); a `TRUNCATE` notifies every user.
pub(crate) const TRIGGERS: &[&str] = &[
    r#"CREATE OR REPLACE FUNCTION "fastusers_user_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('fastusers_user_changed', '');
    ELSE
        IF TG_OP <> 'INSERT' THEN
            PERFORM pg_notify('fastusers_user_changed', to_jsonb(OLD) ->> TG_ARGV[0]);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            PERFORM pg_notify('fastusers_user_changed', to_jsonb(NEW) ->> TG_ARGV[0]);
        END IF;
    END IF;
    RETURN NULL;
END
$$"#,
    r#"DO $$
DECLARE
    users regclass;
    revocations regclass := '"fastusers_revocation"'::regclass;
    id_column text;
BEGIN
    SELECT c.confrelid::regclass, a.attname INTO STRICT users, id_column
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = c.confkey[1]
        WHERE c.conrelid = revocations AND c.contype = 'f';
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = users AND tgname = 'fastusers_user_changed') THEN
        EXECUTE format('CREATE TRIGGER "fastusers_user_changed" AFTER UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION "fastusers_user_changed"(%L)', users, id_column);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = users AND tgname = 'fastusers_user_truncated') THEN
        EXECUTE format('CREATE TRIGGER "fastusers_user_truncated" AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION "fastusers_user_changed"(%L)', users, id_column);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = revocations AND tgname = 'fastusers_user_changed') THEN
        CREATE TRIGGER "fastusers_user_changed" AFTER INSERT OR UPDATE OR DELETE ON "fastusers_revocation"
            FOR EACH ROW EXECUTE FUNCTION "fastusers_user_changed"('user_id');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = revocations AND tgname = 'fastusers_user_truncated') THEN
        CREATE TRIGGER "fastusers_user_truncated" AFTER TRUNCATE ON "fastusers_revocation"
            FOR EACH STATEMENT EXECUTE FUNCTION "fastusers_user_changed"('user_id');
    END IF;
END
$$"#,
];

/// Whether the four triggers of [`TRIGGERS`] are in place.
const TRIGGERS_IN_PLACE: &str = r#"SELECT count(*) = 4 FROM pg_trigger
WHERE tgname IN ('fastusers_user_changed', 'fastusers_user_truncated')
  AND tgrelid IN (
    to_regclass('"fastusers_revocation"'),
    (SELECT confrelid FROM pg_constraint
      WHERE conrelid = to_regclass('"fastusers_revocation"') AND contype = 'f' LIMIT 1))"#;

pub(super) struct PostgresRemote {
    pool: PgPool,
}

impl PostgresRemote {
    pub(super) fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl Remote for PostgresRemote {
    fn describe(&self) -> &'static str {
        "PostgreSQL LISTEN/NOTIFY"
    }

    async fn subscribe(&self) -> Result<Box<dyn Subscription>, BoxError> {
        // A pool of one connection of its own: the listener holds it for as long as it lives.
        let options = (*self.pool.connect_options())
            .clone()
            .application_name(APPLICATION_NAME);
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.ignore_pool_close_event(true);
        // A lost connection is for the caller to see (the cache stops, then clears).
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        let in_place: bool = sqlx::query_scalar(TRIGGERS_IN_PLACE)
            .fetch_one(&mut listener)
            .await?;
        if !in_place {
            return Err(
                "the triggers that notify changes of users are missing: run \
                        SqlStore::migrate (fastusers::store::connect does) on this database"
                    .into(),
            );
        }
        Ok(Box::new(PostgresSubscription {
            listener,
            _pool: pool,
        }))
    }

    fn announces(&self) -> bool {
        false
    }

    async fn announce(&self, _id: &str) -> Result<(), BoxError> {
        // The triggers did, in the change's transaction.
        Ok(())
    }
}

struct PostgresSubscription {
    listener: PgListener,
    _pool: PgPool,
}

#[async_trait]
impl Subscription for PostgresSubscription {
    async fn next(&mut self) -> Option<Change> {
        loop {
            match self.listener.try_recv().await {
                Ok(Some(notification)) if notification.channel() == CHANNEL => {
                    return Some(match notification.payload() {
                        "" => Change::Everyone,
                        id => Change::User(id.to_owned()),
                    });
                }
                Ok(Some(_)) => {}
                // Lost (`None`), or the server's farewell (an error).
                Ok(None) | Err(_) => return None,
            }
        }
    }

    async fn ping(&mut self) -> bool {
        sqlx::query("SELECT 1")
            .execute(&mut self.listener)
            .await
            .is_ok()
    }
}
