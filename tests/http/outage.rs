//! PostgreSQL goes down under a running application and comes back.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use fastusers_tests::{Options, TestApp, User};
use serde_json::json;

/// A PostgreSQL server of this test's own, in a temporary directory, run as the unprivileged
/// user `scripts/test` creates (PostgreSQL refuses to run as root).
struct OwnPostgres {
    bin: PathBuf,
    user: String,
    dir: PathBuf,
    port: u16,
    server: Option<Child>,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: this test runs its own PostgreSQL; run it with scripts/test")
    })
}

impl OwnPostgres {
    fn init() -> Self {
        let (bin, user) = (
            PathBuf::from(env("FASTUSERS_TEST_PG_BIN")),
            env("FASTUSERS_TEST_PG_USER"),
        );
        let dir = std::env::temp_dir().join(format!(
            "fastusers-outage-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("chown")
            .arg(format!("{user}:"))
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "chown the data directory");
        let status = Command::new("setpriv")
            .args([
                &format!("--reuid={user}"),
                &format!("--regid={user}"),
                "--init-groups",
            ])
            .arg(bin.join("initdb"))
            .args([
                "-D",
                &dir.join("data").to_string_lossy(),
                "--auth=trust",
                "-U",
                "postgres",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "initdb");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            bin,
            user,
            dir,
            port,
            server: None,
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start(&mut self) {
        let child = Command::new("setpriv")
            .args([
                &format!("--reuid={}", self.user),
                &format!("--regid={}", self.user),
                "--init-groups",
            ])
            .arg(self.bin.join("postgres"))
            .args([
                "-D",
                &self.dir.join("data").to_string_lossy(),
                "-p",
                &self.port.to_string(),
            ])
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                &format!("unix_socket_directories={}", self.dir.display()),
            ])
            .args(["-c", "fsync=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.server = Some(child);
        for _ in 0..150 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                std::thread::sleep(Duration::from_millis(300));
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("postgres did not start on port {}", self.port);
    }

    /// A fast shutdown (SIGINT): connections are cut, as when a database restarts.
    fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The database goes down: requests that need it answer 503 with a clear detail (no panic,
/// no hang), and the application recovers by itself when the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_503_and_recovers() {
    let mut postgres = OwnPostgres::init();
    postgres.start();
    let store = fastusers::store::connect::<User>(&postgres.url())
        .await
        .unwrap();
    let app = TestApp::on_store(store, postgres.url(), Options::default(), None);
    app.register("dinadan@camelot.bt", "guinevere").await;
    let jwt = app.token("dinadan@camelot.bt", "guinevere").await;
    assert_eq!(app.me_status(&jwt).await, StatusCode::OK);

    postgres.stop();
    let me = app
        .request(Method::GET, "/users/me")
        .bearer(&jwt)
        .send()
        .await;
    assert_eq!(me.status, StatusCode::SERVICE_UNAVAILABLE, "{}", me.text());
    assert!(
        me.json()["detail"]
            .as_str()
            .unwrap()
            .contains("unavailable")
    );
    let register = app
        .register_json(json!({"email": "x@camelot.bt", "password": "guinevere"}))
        .await;
    assert_eq!(
        register.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        register.text()
    );
    let login = app
        .login_form(
            "jwt",
            &[
                ("username", "dinadan@camelot.bt"),
                ("password", "guinevere"),
            ],
        )
        .await;
    assert_eq!(
        login.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        login.text()
    );

    postgres.start();
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = app.me_status(&jwt).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status, StatusCode::OK, "the pool reconnects by itself");
    app.token("dinadan@camelot.bt", "guinevere").await;
}

/// A login that the database outage stops before any password is checked gives its place in
/// the throttle's counts back: the outage does not lock accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_during_an_outage_are_not_counted() {
    let mut postgres = OwnPostgres::init();
    postgres.start();
    let store = fastusers::store::connect::<User>(&postgres.url())
        .await
        .unwrap();
    let options = Options {
        throttle: Some(
            fastusers::throttle::LoginThrottle::new()
                .per_account(2, Duration::from_secs(60))
                .no_address_limit(),
        ),
        ..Options::default()
    };
    let app = TestApp::on_store(store, postgres.url(), options, None);
    app.register("safir@camelot.bt", "guinevere").await;
    let login = async |password: &str| {
        app.login_form(
            "jwt",
            &[("username", "safir@camelot.bt"), ("password", password)],
        )
        .await
    };
    postgres.stop();
    for _ in 0..3 {
        let response = login("guinevere").await;
        assert_eq!(
            response.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            response.text()
        );
    }
    postgres.start();
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = login("wrong-password").await.status;
        if status != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The first counted failure, then the second; the limit is reached only now.
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        login("wrong-password").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        login("guinevere").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}
