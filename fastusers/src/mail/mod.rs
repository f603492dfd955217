//! Email delivery: the verification and reset messages, the security notices, and the mailers
//! that send them.
//!
//! fastapi-users hands the token to a hook and leaves the email to the application. fastusers
//! ships the rest: a [`Mailer`] trait, an SMTP mailer on [lettre] ([`SmtpMailer`], feature
//! `smtp`), a development [`Outbox`] that writes each message to the console or a file, and
//! default message bodies built from link templates ([`LinkTemplates`]).
//!
//! Give the manager a mailer and it sends the verification and reset emails itself, after the
//! `on_after_request_verify` and `on_after_forgot_password` hooks, and the security notices
//! (see [`SecurityEvent`]): a changed or reset password, a changed email address (to the old
//! one), a provider account linked or unlinked. Sending runs in a background
//! task, so a slow or dead mail server never holds a request; a failed send is logged with
//! `tracing` at the error level (target `fastusers::mail`).
//!
//! ```
//! use fastusers::mail::{LinkTemplates, Outbox};
//! # use fastusers::prelude::*;
//! # #[derive(User, Clone, Debug)]
//! # pub struct User { pub id: uuid::Uuid, pub email: String, pub hashed_password: String,
//! #     pub is_active: bool, pub is_superuser: bool, pub is_verified: bool }
//! # fn manager(store: std::sync::Arc<dyn UserStore<User>>) -> UserManager<User> {
//! let templates = LinkTemplates::new(
//!     "https://app.example/verify?token={token}",
//!     "https://app.example/reset-password?token={token}",
//! );
//! UserManager::new(store)
//!     .with_mailer(Outbox::console(), templates)
//!     .send_verification_on_register(true)
//! # }
//! ```
//!
//! [lettre]: https://docs.rs/lettre

mod outbox;
#[cfg(feature = "smtp")]
mod smtp;
mod templates;

use std::sync::Arc;

pub use crate::notice::{Notify, SecurityEvent, mask_email};
pub use outbox::Outbox;
#[cfg(feature = "smtp")]
pub use smtp::{SmtpMailer, SmtpMailerBuilder};
pub use templates::{LinkTemplates, Templates, notice_message};

/// One email: its recipient, subject, and plain-text and HTML bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// An address (the recipient's or the sender's) that cannot be used in an email.
    #[error("invalid address {address:?}: {reason}")]
    Address {
        /// The address.
        address: String,
        /// Why it was refused.
        reason: String,
    },
    /// The mailer's configuration is wrong (a bad SMTP URL, an unreadable certificate).
    #[error("mailer configuration: {0}")]
    Config(String),
    /// The mail server refused the message or could not be reached.
    #[error("mail server {server}")]
    Transport {
        /// The server (`host:port`).
        server: String,
        /// What went wrong.
        #[source]
        source: crate::error::BoxError,
    },
    /// Writing the message (to the outbox file or the console) failed.
    #[error("writing the message")]
    Io(#[from] std::io::Error),
}

/// Sends messages. Implement it to deliver through another service (an HTTP email API, a
/// queue); [`SmtpMailer`] and [`Outbox`] are the ones fastusers ships.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Sends one message.
    async fn send(&self, message: &Message) -> Result<(), MailError>;
}

#[async_trait::async_trait]
impl<M: Mailer + ?Sized> Mailer for Arc<M> {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        (**self).send(message).await
    }
}

/// What the manager sends, and how: a mailer and the templates of its messages.
#[derive(Clone)]
pub(crate) struct AccountMail {
    mailer: Arc<dyn Mailer>,
    templates: Arc<dyn Templates>,
}

impl AccountMail {
    pub(crate) fn new(mailer: impl Mailer, templates: impl Templates) -> Self {
        Self {
            mailer: Arc::new(mailer),
            templates: Arc::new(templates),
        }
    }

    /// Sends the verification email in the background.
    pub(crate) fn verify(&self, email: &str, token: &str) {
        self.dispatch("verify", self.templates.verify(email, token));
    }

    /// Sends the reset-password email in the background.
    pub(crate) fn reset(&self, email: &str, token: &str) {
        self.dispatch("reset", self.templates.reset(email, token));
    }

    /// Sends the notice of a security event in the background, if the templates write one.
    pub(crate) fn notice(&self, email: &str, event: &SecurityEvent) {
        if let Some(message) = self.templates.notice(email, event) {
            self.dispatch(event.kind(), message);
        }
    }

    /// Sends in a task of its own, so the caller never waits for the mail server, and logs a
    /// failure, since nobody is left to report it to.
    fn dispatch(&self, kind: &'static str, message: Message) {
        let mailer = self.mailer.clone();
        tokio::spawn(async move {
            match mailer.send(&message).await {
                Ok(()) => {
                    tracing::debug!(target: "fastusers::mail", kind, to = %message.to, "email sent")
                }
                Err(error) => tracing::error!(
                    target: "fastusers::mail",
                    kind,
                    to = %message.to,
                    error = %crate::error::Report(&error),
                    "sending the {kind} email failed"
                ),
            }
        });
    }
}

impl std::fmt::Debug for AccountMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountMail").finish_non_exhaustive()
    }
}
