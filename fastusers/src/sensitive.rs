//! What a sensitive change (a new email or a new password through `PATCH /users/me`)
//! requires beyond an access token.

use std::time::Duration;

/// What a sensitive change through `PATCH /users/me` (a new email or a new password) requires
/// beyond a valid access token, set with
/// [`FastUsers::sensitive_changes`](crate::FastUsers::sensitive_changes). Off by default, so
/// that fastapi-users clients keep working.
///
/// - [`recent_login(max_age)`](Self::recent_login): the access token's login (its `auth_time`
///   claim, kept across refreshes: a JWT issued by a backend declared with `refresh`) is at
///   most `max_age` old. A token without `auth_time` (a plain login's JWT, a database or
///   Redis token) counts as not recent. Refused: 403 `{"detail": "FRESH_LOGIN_REQUIRED"}`.
/// - [`current_password()`](Self::current_password): the body carries the user's current
///   password in `current_password`. Missing: 400 `CURRENT_PASSWORD_REQUIRED`; wrong: 400
///   `CURRENT_PASSWORD_INVALID`, counted by the login throttle as a failed login of the
///   account (429 `LOGIN_TOO_MANY_ATTEMPTS` once it is locked).
/// - [`either(max_age)`](Self::either): a recent login, or else the current password; with
///   neither, 403 `FRESH_LOGIN_REQUIRED`.
///
/// `current_password` is never stored or echoed; with the rule off it is ignored, as any
/// unknown field of the body. Superusers' `PATCH /users/{id}` is not concerned.
///
/// ```
/// use std::time::Duration;
/// use fastusers::SensitiveChanges;
/// let rule = SensitiveChanges::either(Duration::from_secs(300));
/// assert!(!SensitiveChanges::default().is_on());
/// assert!(rule.is_on());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SensitiveChanges {
    max_age: Option<Duration>,
    current_password: bool,
}

impl SensitiveChanges {
    /// Nothing more than any other update (the default).
    pub fn off() -> Self {
        Self::default()
    }

    /// A login at most `max_age` old.
    pub fn recent_login(max_age: Duration) -> Self {
        Self {
            max_age: Some(max_age),
            current_password: false,
        }
    }

    /// The current password in `current_password`.
    pub fn current_password() -> Self {
        Self {
            max_age: None,
            current_password: true,
        }
    }

    /// A login at most `max_age` old, or else the current password.
    pub fn either(max_age: Duration) -> Self {
        Self {
            max_age: Some(max_age),
            current_password: true,
        }
    }

    /// Whether sensitive changes require anything.
    pub fn is_on(&self) -> bool {
        self.max_age.is_some() || self.current_password
    }

    /// The maximum age of a recent login, when a recent login is accepted.
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// Whether the current password is accepted.
    pub fn accepts_current_password(&self) -> bool {
        self.current_password
    }
}
