//! A redis-server of a test's own, to stop and start (an outage), and a Redis Cluster node.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A redis-server on 127.0.0.1, killed and waited for when dropped.
#[derive(Debug)]
pub struct OwnRedis {
    /// Its port.
    pub port: u16,
    child: Child,
}

impl OwnRedis {
    /// Starts a server on this port, without persistence.
    pub fn start(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// Starts a server on this port with more arguments (a cluster node's).
    pub fn start_with(port: u16, extra: &[String]) -> Self {
        let mut args = [
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        .map(String::from)
        .to_vec();
        args.extend_from_slice(extra);
        let mut command = Command::new("redis-server");
        command.args(&args).stdout(Stdio::null());
        // Owned by `Self` at once, so that Drop kills and waits for it on every path.
        let redis = Self {
            port,
            child: command
                .spawn()
                .expect("redis-server is installed (scripts/test installs it)"),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(redis);
        panic!("redis-server did not start on port {port}");
    }

    /// Starts a server on this port that keeps its data in `dir` (an append-only file): shut
    /// down with [`shut_down`](Self::shut_down) and started again on the same `dir`, it has
    /// every key it had, as a production Redis with persistence.
    pub fn start_persistent(port: u16, dir: &std::path::Path) -> Self {
        let dir = dir.to_string_lossy().into_owned();
        // Not `appendfsync always`: an fsync per write, on a busy disk, outlasts the strategy's
        // two-second timeout. The shutdown writes the file out.
        let extra = [
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            &dir,
        ];
        Self::start_with(port, &extra.map(String::from))
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (its data is gone with it); returns its port, to start another there.
    pub fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }

    /// Shuts the server down as its service manager would (SIGTERM: it closes every
    /// connection and saves its data) and waits for it, ten seconds at most; returns its port.
    pub fn shut_down(mut self) -> u16 {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill is installed");
        assert!(status.success(), "kill -TERM redis-server");
        for _ in 0..200 {
            if self.child.try_wait().ok().flatten().is_some() {
                return self.port;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "redis-server on port {} did not shut down within 10 s",
            self.port
        );
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
