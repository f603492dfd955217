//! What fastusers counts and times, through the [`metrics`](https://docs.rs/metrics) facade
//! (feature `metrics`).
//!
//! fastusers only records: the application installs a recorder (an exporter such as
//! `metrics-exporter-prometheus`) and, if it likes, calls [`describe`] once to give each metric
//! its help text. Without a recorder, or without the feature, recording costs nothing.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `fastusers_logins_total` | counter | `outcome` | password logins (`POST .../login`), by [outcome](LOGIN_OUTCOMES) |
//! | `fastusers_registrations_total` | counter | | users registered through `POST /register` |
//! | `fastusers_password_hash_seconds` | histogram | `operation` | time of one argon2 job on a hashing thread: `hash` (a new hash) or `verify` (a login's check, or the stand-in for an unknown email) |
//! | `fastusers_login_throttle_hits_total` | counter | `limit` | logins refused by the login throttle, by the count that was full: `account`, `address` or `device` |
//! | `fastusers_token_revocations_total` | counter | `scope` | `session`: one token ended (a logout, `DELETE /users/me/sessions/{id}`); `all`: every session of a user ended at once (a password change, a deactivation, [`UserManager::revoke_tokens`](crate::UserManager::revoke_tokens)) |
//!
//! No label holds a user's email, id, address or token: the number of series stays fixed.
//!
//! ```
//! # #[cfg(feature = "metrics")] {
//! // Once, after installing the application's recorder.
//! fastusers::metrics::describe();
//! # }
//! ```

/// `fastusers_logins_total{outcome}`: password logins, by outcome.
pub const LOGINS: &str = "fastusers_logins_total";
/// `fastusers_registrations_total`: users registered through `POST /register`.
pub const REGISTRATIONS: &str = "fastusers_registrations_total";
/// `fastusers_password_hash_seconds{operation}`: the time of one argon2 job.
pub const PASSWORD_HASH_SECONDS: &str = "fastusers_password_hash_seconds";
/// `fastusers_login_throttle_hits_total{limit}`: logins the login throttle refused.
pub const THROTTLE_HITS: &str = "fastusers_login_throttle_hits_total";
/// `fastusers_token_revocations_total{scope}`: tokens and sessions ended.
pub const TOKEN_REVOCATIONS: &str = "fastusers_token_revocations_total";

/// The values of [`LOGINS`]' `outcome` label: `success` (a token was issued),
/// `bad_credentials` (unknown email, wrong password or inactive user: the `400
/// LOGIN_BAD_CREDENTIALS` answer), `not_verified` (`LOGIN_USER_NOT_VERIFIED`), `throttled`
/// (`429`, refused by the login throttle), `shed` (`503`, every hashing slot busy), `error` (a
/// store or hook failed). Later versions may add values (such as a second factor required).
pub const LOGIN_OUTCOMES: &[&str] = &[
    "success",
    "bad_credentials",
    "not_verified",
    "throttled",
    "shed",
    "error",
];

/// Gives each metric its help text (and the hashing time its unit) in the installed
/// recorder. Call it once, after installing the recorder; recording works without it.
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub fn describe() {
    use ::metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(LOGINS, "Password logins, by outcome.");
    describe_counter!(REGISTRATIONS, "Users registered.");
    describe_histogram!(
        PASSWORD_HASH_SECONDS,
        Unit::Seconds,
        "Time of one password hashing job (hash or verify)."
    );
    describe_counter!(
        THROTTLE_HITS,
        "Logins refused by the login throttle, by the full count."
    );
    describe_counter!(TOKEN_REVOCATIONS, "Tokens and sessions ended, by scope.");
}

/// How a login ended, for [`LOGINS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginOutcome {
    Success,
    BadCredentials,
    NotVerified,
    Throttled,
    Shed,
    Error,
}

impl LoginOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Success => LOGIN_OUTCOMES[0],
            Self::BadCredentials => LOGIN_OUTCOMES[1],
            Self::NotVerified => LOGIN_OUTCOMES[2],
            Self::Throttled => LOGIN_OUTCOMES[3],
            Self::Shed => LOGIN_OUTCOMES[4],
            Self::Error => LOGIN_OUTCOMES[5],
        }
    }
}

/// Counts a login.
pub(crate) fn login(outcome: LoginOutcome) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(LOGINS, "outcome" => outcome.label()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome.label();
}

/// Counts a registration.
pub(crate) fn registration() {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(REGISTRATIONS).increment(1);
}

/// Records the time of one hashing job: `hash` or `verify`.
pub(crate) fn hashed(operation: &'static str, took: std::time::Duration) {
    #[cfg(feature = "metrics")]
    ::metrics::histogram!(PASSWORD_HASH_SECONDS, "operation" => operation).record(took);
    #[cfg(not(feature = "metrics"))]
    let _ = (operation, took);
}

/// Counts a login refused by the throttle because the `limit` count (`account`, `address`,
/// `device`) was full.
pub(crate) fn throttle_hit(limit: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(THROTTLE_HITS, "limit" => limit).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = limit;
}

/// Counts a revocation: `session` (one token) or `all` (every session of a user).
pub(crate) fn revoked(scope: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(TOKEN_REVOCATIONS, "scope" => scope).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = scope;
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_label() {
        let all = [
            LoginOutcome::Success,
            LoginOutcome::BadCredentials,
            LoginOutcome::NotVerified,
            LoginOutcome::Throttled,
            LoginOutcome::Shed,
            LoginOutcome::Error,
        ];
        let labels: Vec<&str> = all.iter().map(|o| o.label()).collect();
        assert_eq!(labels, LOGIN_OUTCOMES);
    }
}
