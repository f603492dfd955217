//! The user manager's hooks: what an application runs around each event.

use async_trait::async_trait;
use axum::http::request::Parts;
use axum::response::Response;
use serde_json::Value;

use crate::notice::{Notify, SecurityEvent};
use crate::user::{User, UserCreate};

/// `validate_password` refused a password. The `reason` is sent to the client as
/// `{"detail": {"code": "...", "reason": <reason>}}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid password: {reason}")]
pub struct InvalidPassword {
    /// Why; usually a string, any JSON value is allowed.
    pub reason: Value,
}

impl InvalidPassword {
    /// A refusal with this reason.
    pub fn new(reason: impl Into<Value>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// Whose password `validate_password` checks: a user being registered, or an existing one
/// changing it.
#[derive(Debug)]
pub enum PasswordOwner<'a, U: User> {
    /// A registration body.
    New(&'a U::Create),
    /// A stored user.
    Existing(&'a U),
}

impl<U: User> PasswordOwner<'_, U> {
    /// The owner's email address.
    pub fn email(&self) -> &str {
        match self {
            Self::New(create) => create.email(),
            Self::Existing(user) => user.email(),
        }
    }
}

/// The request that triggered an event, when there is one (`None` for calls from code).
pub type RequestInfo<'a> = Option<&'a Parts>;

/// Hooks of the user manager, each a no-op by default. Implement the ones you need.
///
/// ```
/// use fastusers::prelude::*;
/// use fastusers::{InvalidPassword, PasswordOwner, RequestInfo};
///
/// # #[derive(User, Clone, Debug)]
/// # pub struct Member { pub id: uuid::Uuid, pub email: String, pub hashed_password: String,
/// #     pub is_active: bool, pub is_superuser: bool, pub is_verified: bool }
/// struct MyHooks;
///
/// #[fastusers::async_trait]
/// impl Hooks<Member> for MyHooks {
///     async fn validate_password(&self, password: &str, _owner: PasswordOwner<'_, Member>) -> Result<(), InvalidPassword> {
///         if password.len() < 8 {
///             return Err(InvalidPassword::new("Password should be at least 8 characters"));
///         }
///         Ok(())
///     }
///
///     async fn on_after_register(&self, user: &Member, _request: RequestInfo<'_>) {
///         println!("User {} has registered.", user.id);
///     }
/// }
/// ```
#[async_trait]
#[allow(unused_variables)]
pub trait Hooks<U: User>: Send + Sync + 'static {
    /// Checks a password before it is hashed, at registration, update and reset.
    async fn validate_password(
        &self,
        password: &str,
        owner: PasswordOwner<'_, U>,
    ) -> Result<(), InvalidPassword> {
        Ok(())
    }

    /// After a user registered.
    async fn on_after_register(&self, user: &U, request: RequestInfo<'_>) {}

    /// After a user was updated, with the changes applied.
    async fn on_after_update(&self, user: &U, changes: &U::Changes, request: RequestInfo<'_>) {}

    /// Before a user with the right password is logged in: refuse the login by returning the
    /// error to answer (a ban list, a maintenance window, a second factor).
    async fn on_before_login(
        &self,
        user: &U,
        request: RequestInfo<'_>,
    ) -> Result<(), crate::error::ApiError> {
        Ok(())
    }

    /// After a successful login, before the response is sent; the response may be changed.
    async fn on_after_login(&self, user: &U, request: RequestInfo<'_>, response: &mut Response) {}

    /// After a login failed: an unknown email, a wrong password or an inactive user (told
    /// apart nowhere, so that no answer reveals which), or a login refused by throttling
    /// (`throttled` is true then). For audit logs and alerts.
    async fn on_after_failed_login(&self, email: &str, throttled: bool, request: RequestInfo<'_>) {}

    /// After a verification token was made for the user: send it.
    async fn on_after_request_verify(&self, user: &U, token: &str, request: RequestInfo<'_>) {}

    /// After a user verified their email.
    async fn on_after_verify(&self, user: &U, request: RequestInfo<'_>) {}

    /// After a reset-password token was made for the user: send it.
    async fn on_after_forgot_password(&self, user: &U, token: &str, request: RequestInfo<'_>) {}

    /// After a user reset their password.
    async fn on_after_reset_password(&self, user: &U, request: RequestInfo<'_>) {}

    /// After a change to how the user's account is reached (a new password, a new email
    /// address, a provider account linked or unlinked), before its notice is emailed: see
    /// [`SecurityEvent`](crate::mail::SecurityEvent). `user` is the user after the change. Answer [`Notify::Handled`] to
    /// tell them some other way, or not at all; the default, [`Notify::Email`], has fastusers
    /// email the notice when the manager has a mailer.
    async fn on_security_event(
        &self,
        user: &U,
        event: &SecurityEvent,
        request: RequestInfo<'_>,
    ) -> Notify {
        Notify::Email
    }

    /// A refresh token already exchanged was presented again, after the grace period: two
    /// parties held it, so its family (every token of that login) was revoked. `user` is the
    /// family's user. See [`crate::refresh`].
    async fn on_refresh_token_reuse(&self, user: &U, request: RequestInfo<'_>) {}

    /// Before a user is deleted.
    async fn on_before_delete(&self, user: &U, request: RequestInfo<'_>) {}

    /// After a user was deleted.
    async fn on_after_delete(&self, user: &U, request: RequestInfo<'_>) {}
}

/// The hooks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl<U: User> Hooks<U> for NoHooks {}
