//! A real SMTP server for the mailer tests: aiosmtpd (from PyPI) on loopback, run by
//! `tests/smtp/server.py` with the Python of `FASTUSERS_TEST_PYTHON` (`scripts/test` makes a
//! virtualenv with aiosmtpd and sets it), with its own certificate authority made by openssl.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// How the server expects clients to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No encryption (a local relay).
    Plain,
    /// STARTTLS, required before anything else.
    StartTls,
    /// Implicit TLS (SMTPS).
    Implicit,
}

/// Options of [`SmtpServer::start`].
#[derive(Debug, Clone)]
pub struct SmtpOptions {
    /// Encryption.
    pub security: Security,
    /// Require a login with this user and password.
    pub auth: Option<(String, String)>,
    /// Wait this many seconds before accepting a message for this recipient.
    pub slow: Option<(String, u64)>,
}

/// A running aiosmtpd; stopped and its files removed on drop.
#[derive(Debug)]
pub struct SmtpServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    security: Security,
    dir: PathBuf,
    inbox: PathBuf,
    child: Child,
}

use crate::free_port;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (scripts/test installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A certificate authority (`ca.pem`) and a server certificate for 127.0.0.1 and localhost
/// that it signed (`server.pem`, `server.key`).
fn make_certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=fastusers test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write the extensions");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

impl SmtpServer {
    /// Starts a server and waits until it accepts connections.
    pub fn start(options: SmtpOptions) -> Self {
        let python = std::env::var("FASTUSERS_TEST_PYTHON").expect(
            "FASTUSERS_TEST_PYTHON is not set: the SMTP tests need Python with aiosmtpd; run them with scripts/test",
        );
        let dir = std::env::temp_dir().join(format!("fastusers-smtp-{}", uuid::Uuid::new_v4()));
        let inbox = dir.join("inbox");
        std::fs::create_dir_all(&inbox).expect("make the server's directory");
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp/server.py");
        let mut command = Command::new(python);
        command
            .arg(script)
            .args(["--port", &port.to_string(), "--dir"])
            .arg(&inbox)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if options.security != Security::Plain {
            make_certificates(&dir);
            let flag = match options.security {
                Security::StartTls => "--starttls",
                _ => "--implicit-tls",
            };
            command
                .arg(flag)
                .arg(dir.join("server.pem"))
                .arg(dir.join("server.key"));
        }
        if let Some((user, password)) = &options.auth {
            command.args(["--auth", &format!("{user}:{password}")]);
        }
        if let Some((recipient, seconds)) = &options.slow {
            command.args(["--slow", recipient, &seconds.to_string()]);
        }
        let mut child = command.spawn().expect("start the SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the server's first line");
        assert_eq!(line.trim(), "READY", "the SMTP server did not start");
        Self {
            port,
            security: options.security,
            dir,
            inbox,
            child,
        }
    }

    /// The URL of this server for the mailer, with these credentials.
    pub fn url(&self, credentials: Option<(&str, &str)>) -> String {
        let login = credentials
            .map(|(user, password)| format!("{user}:{password}@"))
            .unwrap_or_default();
        match self.security {
            Security::Plain => format!("smtp://{login}127.0.0.1:{}", self.port),
            Security::StartTls => format!("smtp://{login}127.0.0.1:{}?tls=required", self.port),
            Security::Implicit => format!("smtps://{login}127.0.0.1:{}", self.port),
        }
    }

    /// The certificate authority that signed the server's certificate (PEM).
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("ca.pem")).expect("read the CA certificate")
    }

    /// The messages received so far, oldest first.
    pub fn received(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.inbox)
            .expect("read the inbox")
            .map(|e| e.expect("an inbox entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                serde_json::from_slice(&std::fs::read(p).expect("read a message"))
                    .expect("a JSON message")
            })
            .collect()
    }

    /// Waits (up to 30 s) until `count` messages have been received, and returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<Value> {
        for _ in 0..300 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the SMTP server received {} messages, expected {count}",
            self.received().len()
        );
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
