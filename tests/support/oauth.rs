//! A real OAuth2 / OpenID Connect provider for the OAuth tests: oauth2-mock-server (from npm)
//! on loopback, run by `tests/oauth/server.mjs` with the Node of `FASTUSERS_TEST_NODE`
//! (`scripts/test` installs the package with `npm ci` and sets it).
//!
//! The issuer is `http://127.0.0.1:PORT`, with discovery at
//! `/.well-known/openid-configuration` and the endpoints `/authorize`, `/token`, `/userinfo`
//! and `/jwks`. The identity a login ends with is chosen by the test through
//! [`OAuthServer::authorize`]; `tests/oauth/server.mjs` documents what the provider checks.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running oauth2-mock-server; stopped on drop.
#[derive(Debug)]
pub struct OAuthServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
}

use crate::free_port;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(crate::REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client")
}

use crate::encode;

impl OAuthServer {
    /// Starts a provider and waits until it accepts connections.
    pub fn start() -> Self {
        let node = std::env::var("FASTUSERS_TEST_NODE").expect(
            "FASTUSERS_TEST_NODE is not set: the OAuth tests need Node with oauth2-mock-server; run them with scripts/test",
        );
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("oauth/server.mjs");
        let mut child = Command::new(node)
            .arg(script)
            .args(["--port", &port.to_string(), "--exit-on-stdin-close"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the OAuth server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the server's first line");
        assert_eq!(
            line.trim(),
            "READY",
            "the OAuth server did not start (run `npm ci --prefix tests/oauth`, which scripts/test does)"
        );
        Self { port, child }
    }

    /// The issuer, `http://127.0.0.1:PORT`, which is also the base of every endpoint.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Follows an authorization URL (of this provider, with a query string) as a user who
    /// logs in as `sub`, with this email (verified) or none at all, and returns where the
    /// provider redirects: the `redirect_uri` with `code` and `state`.
    pub async fn authorize(
        &self,
        authorization_url: &str,
        sub: &str,
        email: Option<&str>,
    ) -> String {
        let mut extra = vec![("mock_sub", sub)];
        if let Some(email) = email {
            extra.push(("mock_email", email));
        }
        self.redirect(authorization_url, &extra).await
    }

    /// [`authorize`](Self::authorize) with an email the provider does not vouch for
    /// (`email_verified: false`).
    pub async fn authorize_unverified(
        &self,
        authorization_url: &str,
        sub: &str,
        email: &str,
    ) -> String {
        let extra = [
            ("mock_sub", sub),
            ("mock_email", email),
            ("mock_email_verified", "false"),
        ];
        self.redirect(authorization_url, &extra).await
    }

    /// [`authorize`](Self::authorize) with a spoiled ID token: `mode` is `bad_signature`,
    /// `wrong_aud`, `wrong_iss`, `expired`, `unsigned`, `unknown_kid`, `no_nonce` or
    /// `wrong_nonce`.
    pub async fn authorize_spoiled(&self, authorization_url: &str, mode: &str) -> String {
        let extra = [
            ("mock_sub", "spoiled-sub"),
            ("mock_email", "spoiled@example.com"),
            ("mock_id_token", mode),
        ];
        self.redirect(authorization_url, &extra).await
    }

    /// [`authorize`](Self::authorize) whose ID token has this `iss` and, if given, this `tid`
    /// (a multi-tenant provider's).
    pub async fn authorize_tenant(
        &self,
        authorization_url: &str,
        sub: &str,
        email: &str,
        iss: &str,
        tid: Option<&str>,
    ) -> String {
        let mut extra = vec![("mock_sub", sub), ("mock_email", email), ("mock_iss", iss)];
        if let Some(tid) = tid {
            extra.push(("mock_tid", tid));
        }
        self.redirect(authorization_url, &extra).await
    }

    /// Rotates the provider's signing key: a new key signs from now on and is the only one
    /// its JWKS publishes. Returns the new key's `kid`.
    pub async fn rotate_keys(&self) -> String {
        let url = format!("{}/test/rotate-keys", self.issuer());
        let body = self.test_endpoint(client().post(&url), &url).await;
        body["kid"].as_str().expect("the new kid").to_owned()
    }

    /// How many times the JWKS (`/jwks`) was fetched.
    pub async fn jwks_requests(&self) -> u64 {
        let url = format!("{}/test/jwks-requests", self.issuer());
        let body = self.test_endpoint(client().get(&url), &url).await;
        body["count"].as_u64().expect("a count")
    }

    async fn test_endpoint(&self, request: reqwest::RequestBuilder, url: &str) -> Value {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        let body = response.bytes().await.expect("read the answer");
        serde_json::from_slice(&body).expect("a JSON answer")
    }

    /// Follows an authorization URL as a user who does not log in: the provider redirects to
    /// the `redirect_uri` with `error` (this code) and `state`, and no `code`.
    pub async fn authorize_error(&self, authorization_url: &str, error: &str) -> String {
        self.redirect(authorization_url, &[("mock_error", error)])
            .await
    }

    async fn redirect(&self, authorization_url: &str, extra: &[(&str, &str)]) -> String {
        assert!(
            authorization_url.starts_with(&format!("{}/", self.issuer())),
            "not an URL of this provider ({}): {authorization_url}",
            self.issuer()
        );
        assert!(
            authorization_url.contains('?'),
            "an authorization URL has a query string: {authorization_url}"
        );
        let mut url = authorization_url.to_owned();
        for (name, value) in extra {
            url.push('&');
            url.push_str(name);
            url.push('=');
            url.push_str(&encode(value));
        }
        let response = client()
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match location {
            Some(location) if status == 302 || status == 303 => location,
            _ => {
                let body = response.bytes().await.unwrap_or_default();
                panic!(
                    "GET {url}: expected a redirect, got {status}: {}",
                    String::from_utf8_lossy(&body)
                )
            }
        }
    }

    /// Every request the token endpoint received, oldest first: objects with `grant_type`,
    /// `code`, `client_id`, `client_auth` (`client_secret_basic`, `client_secret_post` or
    /// `none`), `client_secret`, `redirect_uri`, `code_verifier_present`,
    /// `code_verifier_valid` (`null` when the code had no `code_challenge` or is unknown),
    /// `code_challenge_method`, `status` and `error` (`null` on success).
    pub async fn token_requests(&self) -> Value {
        let url = format!("{}/test/token-requests", self.issuer());
        self.test_endpoint(client().get(&url), &url).await
    }

    /// The status of the provider's userinfo endpoint for this access token: 200 for a token
    /// the provider issued, 401 for anything else.
    pub async fn userinfo_status(&self, access_token: &str) -> u16 {
        let url = format!("{}/userinfo", self.issuer());
        client()
            .get(&url)
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .status()
            .as_u16()
    }

    /// How many token requests exchanged (or tried to exchange) this authorization code.
    pub async fn exchanges_of(&self, code: &str) -> usize {
        let requests = self.token_requests().await;
        requests
            .as_array()
            .expect("a list")
            .iter()
            .filter(|r| r["code"] == Value::String(code.to_owned()))
            .count()
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
