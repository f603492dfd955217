//! [`PwnedPasswords`]: the breach check of Have I Been Pwned's range API, by k-anonymity.

use std::time::Duration;

use sha1::{Digest, Sha1};

/// Why a Pwned Passwords lookup gave no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PwnedError {
    /// The request failed: no connection, a timeout, an unreadable body.
    #[error("the Pwned Passwords request failed")]
    Request(#[source] reqwest::Error),
    /// The service answered with another status than 200.
    #[error("Pwned Passwords answered {0}")]
    Status(reqwest::StatusCode),
}

/// Asks Have I Been Pwned's [Pwned Passwords] range API whether a password appeared in a
/// breach, without sending it: only the first 5 hexadecimal characters of its SHA-1 go out
/// (`GET {url}/range/{prefix}`, with `Add-Padding: true`), and the answer, every known hash
/// suffix of that prefix, is searched here (k-anonymity).
///
/// The check fails open: when the service cannot be reached, answers slowly (past the
/// [`timeout`](Self::timeout), 2 s by default) or answers something else than 200, the
/// password is accepted and the failure logged at the warn level (target
/// `fastusers::password`), so that an outage of the service never blocks registrations.
///
/// Behind the cargo feature `pwned-passwords`; add it to a policy with
/// [`PasswordPolicy::pwned_passwords`](super::PasswordPolicy::pwned_passwords).
///
/// ```
/// use fastusers::password::{PasswordPolicy, PwnedPasswords};
/// let policy = PasswordPolicy::default().pwned_passwords(PwnedPasswords::new());
/// # let _ = policy;
/// ```
///
/// [Pwned Passwords]: https://haveibeenpwned.com/API/v3#PwnedPasswords
#[derive(Debug, Clone)]
pub struct PwnedPasswords {
    url: String,
    timeout: Duration,
    client: reqwest::Client,
}

impl Default for PwnedPasswords {
    fn default() -> Self {
        Self::new()
    }
}

impl PwnedPasswords {
    /// The public service, `https://api.pwnedpasswords.com`, with a 2 s timeout.
    pub fn new() -> Self {
        Self {
            url: "https://api.pwnedpasswords.com".to_owned(),
            timeout: Duration::from_secs(2),
            client: reqwest::Client::new(),
        }
    }

    /// Another server with the same API (a mirror, or a stand-in in tests): `{url}/range/...`.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// How long a lookup may take before the password is accepted unchecked (default 2 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many times the password appears in Have I Been Pwned's breaches (0: never).
    pub async fn count(&self, password: &str) -> Result<u64, PwnedError> {
        let hash: String = Sha1::digest(password.as_bytes())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let (prefix, suffix) = hash.split_at(5);
        let response = self
            .client
            .get(format!("{}/range/{prefix}", self.url))
            .header("Add-Padding", "true")
            .timeout(self.timeout)
            .send()
            .await
            .map_err(PwnedError::Request)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(PwnedError::Status(response.status()));
        }
        let body = response.text().await.map_err(PwnedError::Request)?;
        Ok(body
            .lines()
            .filter_map(|line| line.trim().split_once(':'))
            .find(|(found, _)| found.eq_ignore_ascii_case(suffix))
            // Padding lines have a count of 0.
            .and_then(|(_, count)| count.trim().parse().ok())
            .unwrap_or(0))
    }

    /// Whether the password appeared in a breach; `false` when the service gave no answer
    /// (logged).
    pub(crate) async fn is_breached(&self, password: &str) -> bool {
        match self.count(password).await {
            Ok(count) => count > 0,
            Err(error) => {
                tracing::warn!(
                    target: "fastusers::password",
                    error = ?error,
                    "the Pwned Passwords check gave no answer: the password is accepted unchecked"
                );
                false
            }
        }
    }
}
