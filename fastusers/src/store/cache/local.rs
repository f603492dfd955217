//! The channel of a store that one process uses: the caches on it tell each other directly.
//! On a SQLite file, other processes' writes are noticed through `PRAGMA data_version`.

use std::sync::{Arc, Mutex, Weak};

use super::CacheHandle;

/// The caches of this process on one database.
#[derive(Default)]
pub(super) struct LocalBus {
    caches: Mutex<Vec<Weak<dyn CacheHandle>>>,
    /// The SQLite file, watched for other processes' writes.
    #[cfg(feature = "sqlite")]
    watch: Option<sqlite::Watch>,
}

impl std::fmt::Debug for LocalBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(feature = "sqlite")]
        if let Some(watch) = &self.watch {
            return write!(f, "sqlite({})", watch.path().display());
        }
        f.write_str("this_process")
    }
}

impl LocalBus {
    pub(super) fn join(&self, cache: Weak<dyn CacheHandle>) {
        let mut caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        caches.retain(|cache| cache.strong_count() > 0);
        caches.push(cache);
    }

    /// The caches still alive.
    fn caches(&self) -> Vec<Arc<dyn CacheHandle>> {
        let caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        caches.iter().filter_map(Weak::upgrade).collect()
    }

    pub(super) fn evict(&self, id: &str) {
        for cache in self.caches() {
            cache.evict(id);
        }
    }

    pub(super) async fn confirm(&self) -> bool {
        #[cfg(feature = "sqlite")]
        if let Some(watch) = &self.watch {
            return watch
                .confirm(|| self.caches().iter().for_each(|c| c.clear()))
                .await;
        }
        true
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, LazyLock, Mutex, Weak};
    use std::time::{Duration, Instant};

    use sqlx::Connection as _;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

    use super::LocalBus;

    /// How long a look at `data_version` is trusted: a write by another process is seen at
    /// most this late.
    const FRESH_FOR: Duration = Duration::from_millis(1);
    /// The longest a look may take before the cache stops trusting itself.
    const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

    /// Every SQLite file this process has a bus for, by canonical path.
    static BUSES: LazyLock<Mutex<HashMap<PathBuf, Weak<LocalBus>>>> =
        LazyLock::new(Default::default);

    impl LocalBus {
        /// The bus of the database that `options` open: one per file in this process (so
        /// that two stores on one file keep each other's caches true), watched for the
        /// writes of other processes; a new one for an in-memory database, which no other
        /// connection can reach.
        pub(in crate::store::cache) fn for_sqlite(options: &SqliteConnectOptions) -> Arc<Self> {
            let Ok(path) = std::fs::canonicalize(options.get_filename()) else {
                return Arc::new(Self::default());
            };
            let mut buses = BUSES.lock().unwrap_or_else(|e| e.into_inner());
            buses.retain(|_, bus| bus.strong_count() > 0);
            if let Some(bus) = buses.get(&path).and_then(Weak::upgrade) {
                return bus;
            }
            let bus = Arc::new(Self {
                caches: Mutex::default(),
                watch: Some(Watch::new(options.clone(), path.clone())),
            });
            buses.insert(path, Arc::downgrade(&bus));
            bus
        }
    }

    /// `PRAGMA data_version` of a connection of its own, which changes whenever another
    /// connection (of this process or another) commits a write to the file.
    pub(super) struct Watch {
        options: SqliteConnectOptions,
        path: PathBuf,
        start: Instant,
        /// Microseconds since `start` of the last look, plus one; zero before the first.
        looked_at: AtomicU64,
        state: tokio::sync::Mutex<State>,
    }

    #[derive(Default)]
    struct State {
        connection: Option<SqliteConnection>,
        version: Option<i64>,
    }

    impl Watch {
        fn new(options: SqliteConnectOptions, path: PathBuf) -> Self {
            Self {
                options,
                path,
                start: Instant::now(),
                looked_at: AtomicU64::new(0),
                state: tokio::sync::Mutex::default(),
            }
        }

        pub(super) fn path(&self) -> &Path {
            &self.path
        }

        fn now(&self) -> u64 {
            self.start.elapsed().as_micros() as u64 + 1
        }

        fn fresh(&self) -> bool {
            let looked_at = self.looked_at.load(Ordering::SeqCst);
            looked_at != 0 && self.now() - looked_at < FRESH_FOR.as_micros() as u64
        }

        /// Whether the caches may be trusted: looks at the file's version unless a look was
        /// made within the last millisecond, and calls `clear` when it changed. `false` when
        /// the look fails.
        pub(super) async fn confirm(&self, clear: impl FnOnce()) -> bool {
            if self.fresh() {
                return true;
            }
            let mut state = self.state.lock().await;
            if self.fresh() {
                // Looked at while this one waited for its turn.
                return true;
            }
            let looked_at = self.now();
            let version = tokio::time::timeout(CHECK_TIMEOUT, version(&mut state, &self.options));
            match version.await {
                Ok(Ok(version)) => {
                    if state.version != Some(version) {
                        clear();
                        state.version = Some(version);
                    }
                    self.looked_at.store(looked_at, Ordering::SeqCst);
                    true
                }
                failed => {
                    if let Ok(Err(error)) = failed {
                        tracing::warn!(%error, "the user cache cannot read SQLite's data_version");
                    }
                    // A new connection counts versions afresh.
                    *state = State::default();
                    false
                }
            }
        }
    }

    async fn version(
        state: &mut State,
        options: &SqliteConnectOptions,
    ) -> Result<i64, sqlx::Error> {
        let mut connection = match state.connection.take() {
            Some(connection) => connection,
            None => SqliteConnection::connect_with(options).await?,
        };
        let version = sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(&mut connection)
            .await?;
        state.connection = Some(connection);
        Ok(version)
    }
}
