//! `UserManager::user_cache_ttl` / `CachedUserStore`: users read by id served from memory, every
//! change made through the manager seen at once, changes made behind its back seen at once
//! through the store's channel (PostgreSQL's triggers, SQLite's `data_version`), or, with a
//! channel that cannot see them, when the cached user expires. Across instances:
//! `instances.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers::revocation::{Revocable, Timestamp};
use fastusers::store::{CacheChannel, CachedUserStore, StoreError, UserStore};
use fastusers_tests::{
    Db, Options, TestApp, User, UserChanges, db_tests, fresh_database, shared_database,
};
use serde_json::json;

/// An application whose manager reads through a cache (on `channel`, or the store's own), and
/// the store behind the cache (to change a user behind the cache's back).
async fn cached_app(
    url: String,
    ttl: Duration,
    channel: Option<CacheChannel>,
) -> (
    TestApp,
    Arc<dyn UserStore<User>>,
    Arc<CachedUserStore<User>>,
) {
    let behind = fastusers::store::connect::<User>(&url).await.unwrap();
    let cached = CachedUserStore::new(behind.clone(), ttl);
    let cached = Arc::new(match channel {
        Some(channel) => cached.channel(channel),
        None => cached,
    });
    (
        TestApp::on_store(cached.clone(), url, Options::default(), None),
        behind,
        cached,
    )
}

fn id_of(user: &serde_json::Value) -> uuid::Uuid {
    uuid::Uuid::parse_str(user["id"].as_str().unwrap()).unwrap()
}

fn deactivate() -> UserChanges {
    UserChanges {
        is_active: Some(false),
        ..Default::default()
    }
}

/// With a channel that cannot see a change made behind the cache (`this_process`: another
/// program's write), the change is not seen until the cached user expires, and then it is:
/// the cache serves reads, for `ttl` only (the last resort).
async fn served_from_memory_until_it_expires(db: Db) {
    let url = fresh_database(db).await;
    let channel = Some(CacheChannel::this_process());
    let (app, behind, _) = cached_app(url, Duration::from_millis(500), channel).await;
    let user = app.register("percival@camelot.bt", "guinevere").await;
    let jwt = app.token("percival@camelot.bt", "guinevere").await;
    assert_eq!(app.me_status(&jwt).await, StatusCode::OK);

    behind.update(&id_of(&user), &deactivate()).await.unwrap();
    assert_eq!(
        app.me_status(&jwt).await,
        StatusCode::OK,
        "within the TTL the cached (active) user is served"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        app.me_status(&jwt).await,
        StatusCode::UNAUTHORIZED,
        "after the TTL the deactivation is seen"
    );
}

/// Changes through the manager (the routes) reach the cache at once, even with a TTL of an
/// hour: a deactivation (and the revocation time saved with it), an email change, a password
/// change, a deletion.
async fn changes_through_the_manager_are_seen_at_once(db: Db) {
    let url = fresh_database(db).await;
    let (app, _, _) = cached_app(url, Duration::from_secs(3600), None).await;
    let admin = app.superuser("arthur@camelot.bt").await;
    let user = app.register("gawain@camelot.bt", "guinevere").await;
    let id = id_of(&user);
    let jwt = app.token("gawain@camelot.bt", "guinevere").await;
    assert_eq!(app.me_status(&jwt).await, StatusCode::OK);

    let patch = app
        .request(Method::PATCH, &format!("/users/{id}"))
        .bearer(&admin)
        .json(&json!({"is_active": false}))
        .send()
        .await;
    assert_eq!(patch.status, StatusCode::OK, "{}", patch.text());
    assert_eq!(app.me_status(&jwt).await, StatusCode::UNAUTHORIZED);

    let patch = app
        .request(Method::PATCH, &format!("/users/{id}"))
        .bearer(&admin)
        .json(&json!({"is_active": true}))
        .send()
        .await;
    assert_eq!(patch.status, StatusCode::OK, "{}", patch.text());
    assert_eq!(
        app.me_status(&jwt).await,
        StatusCode::UNAUTHORIZED,
        "the deactivation revoked the user's sessions"
    );
    let jwt = app.token("gawain@camelot.bt", "guinevere").await;
    let patch = app
        .request(Method::PATCH, "/users/me")
        .bearer(&jwt)
        .json(&json!({"email": "gawain@orkney.bt"}))
        .send()
        .await;
    assert_eq!(patch.status, StatusCode::OK, "{}", patch.text());
    let me = app
        .request(Method::GET, "/users/me")
        .bearer(&jwt)
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["email"], "gawain@orkney.bt");

    let patch = app
        .request(Method::PATCH, "/users/me")
        .bearer(&jwt)
        .json(&json!({"password": "new-password"}))
        .send()
        .await;
    assert_eq!(patch.status, StatusCode::OK, "{}", patch.text());
    assert_eq!(app.me_status(&jwt).await, StatusCode::UNAUTHORIZED);
    let jwt = app.token("gawain@orkney.bt", "new-password").await;
    assert_eq!(app.me_status(&jwt).await, StatusCode::OK);

    let delete = app
        .request(Method::DELETE, &format!("/users/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT, "{}", delete.text());
    assert_eq!(app.me_status(&jwt).await, StatusCode::UNAUTHORIZED);
}

/// A change made behind the cache, in the store directly (as another process would), is seen
/// at once with the store's own channel, even with a TTL of an hour: PostgreSQL's triggers
/// notify it; SQLite's `data_version` shows it (a file that several stores open).
async fn changes_behind_the_cache_are_seen_through_the_store_channel(db: Db) {
    let url = shared_database(db).await;
    let (app, behind, cache) = cached_app(url, Duration::from_secs(3600), None).await;
    let user = app.register("tristan@camelot.bt", "guinevere").await;
    let jwt = app.token("tristan@camelot.bt", "guinevere").await;
    let start = std::time::Instant::now();
    while app.me_status(&jwt).await != StatusCode::OK || !cache.is_serving() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the cache's channel was not up within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Cached now.
    assert_eq!(app.me_status(&jwt).await, StatusCode::OK);

    behind.update(&id_of(&user), &deactivate()).await.unwrap();
    let start = std::time::Instant::now();
    while app.me_status(&jwt).await != StatusCode::UNAUTHORIZED {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the deactivation behind the cache was not seen within 5 s (the TTL is an hour)"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

db_tests!(
    served_from_memory_until_it_expires,
    changes_through_the_manager_are_seen_at_once,
    changes_behind_the_cache_are_seen_through_the_store_channel
);

/// A store whose next read by id stops after reading, until released: the read then returns
/// what it read before a write that happened in between.
struct Paused {
    inner: Arc<dyn UserStore<User>>,
    armed: AtomicBool,
    reached: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[fastusers::async_trait]
impl UserStore<User> for Paused {
    async fn get(&self, id: &uuid::Uuid) -> Result<Option<User>, StoreError> {
        Ok(self.get_revocable(id).await?.map(|found| found.user))
    }
    async fn get_revocable(&self, id: &uuid::Uuid) -> Result<Option<Revocable<User>>, StoreError> {
        let user = self.inner.get_revocable(id).await?;
        if self.armed.swap(false, Ordering::SeqCst) {
            self.reached.notify_one();
            self.release.notified().await;
        }
        Ok(user)
    }
    async fn update_and_revoke(
        &self,
        id: &uuid::Uuid,
        changes: &UserChanges,
        revoked_at: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        self.inner.update_and_revoke(id, changes, revoked_at).await
    }
    async fn get_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.inner.get_by_email(email).await
    }
    async fn create(&self, user: &User) -> Result<User, StoreError> {
        self.inner.create(user).await
    }
    async fn update(
        &self,
        id: &uuid::Uuid,
        changes: &UserChanges,
    ) -> Result<Option<User>, StoreError> {
        self.inner.update(id, changes).await
    }
    async fn delete(&self, id: &uuid::Uuid) -> Result<bool, StoreError> {
        self.inner.delete(id).await
    }
}

/// A read that started before a write returns the old user, but must not leave it in the
/// cache: the next read sees the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_racing_a_write_does_not_cache_the_old_user() {
    let store = fastusers::store::connect::<User>("sqlite::memory:")
        .await
        .unwrap();
    let user = store
        .create(&User {
            id: uuid::Uuid::new_v4(),
            email: "bors@camelot.bt".to_owned(),
            hashed_password: "x".to_owned(),
            is_active: true,
            is_superuser: false,
            is_verified: false,
            first_name: None,
            plan: None,
            notes: None,
            login_count: 0,
            age: None,
            height: None,
            team_id: None,
            newsletter: false,
        })
        .await
        .unwrap();
    let paused = Arc::new(Paused {
        inner: store,
        armed: AtomicBool::new(true),
        reached: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
    });
    let cached = Arc::new(CachedUserStore::new(
        paused.clone(),
        Duration::from_secs(3600),
    ));

    let reader = tokio::spawn({
        let cached = cached.clone();
        let id = user.id;
        async move { cached.get(&id).await.unwrap().unwrap() }
    });
    paused.reached.notified().await;
    cached.update(&user.id, &deactivate()).await.unwrap();
    paused.release.notify_one();
    assert!(
        reader.await.unwrap().is_active,
        "the racing read saw the old user"
    );

    let now = cached.get(&user.id).await.unwrap().unwrap();
    assert!(!now.is_active, "the old user was cached by the racing read");
}
