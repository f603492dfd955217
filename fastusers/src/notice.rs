//! Security notices: see [`SecurityEvent`].

/// A change to how an account is reached, which its owner is told of: a security notice.
///
/// When the password is changed or reset, the email address changed, or a provider account
/// linked or unlinked, the user manager tells the owner (OWASP ASVS 4.0.3, requirements 2.2.3
/// and 2.5.5), so that someone who did not make the change learns of it. Each change is a
/// [`SecurityEvent`]. For each one the manager calls the
/// [`on_security_event`](crate::Hooks::on_security_event) hook, then, unless the hook answers
/// [`Notify::Handled`], emails the notice that the [templates](crate::mail::Templates) write,
/// when it has a mailer (see [`crate::mail`]). The notices name no token and no secret.
///
/// Later features (a second factor, passkeys) tell of their changes through the same path:
/// [`UserManager::notify`](crate::UserManager::notify) with their own event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityEvent {
    /// The password was changed (`PATCH /users/me`, or by a superuser).
    PasswordChanged,
    /// The password was reset with a link sent by email.
    PasswordReset,
    /// The email address was changed: the notice goes to the old address.
    EmailChanged {
        /// The address before the change, where the notice goes.
        old_email: String,
        /// The address after the change (shown [masked](mask_email) in the notice).
        new_email: String,
    },
    /// An account at a provider was linked: it can now log in.
    OAuthAccountLinked {
        /// The provider's name (`google`, `github`).
        provider: String,
        /// The email address of the provider account.
        account_email: String,
    },
    /// The account at a provider was unlinked: it can no longer log in.
    OAuthAccountUnlinked {
        /// The provider's name.
        provider: String,
    },
}

impl SecurityEvent {
    /// A short name of the event, for logs: `password_changed`, `password_reset`,
    /// `email_changed`, `oauth_account_linked`, `oauth_account_unlinked`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::EmailChanged { .. } => "email_changed",
            Self::OAuthAccountLinked { .. } => "oauth_account_linked",
            Self::OAuthAccountUnlinked { .. } => "oauth_account_unlinked",
        }
    }

    /// Where the notice goes, for a user whose address is now `email`: the old address of an
    /// email change (its owner is the one to warn), else `email`.
    pub fn recipient<'a>(&'a self, email: &'a str) -> &'a str {
        match self {
            Self::EmailChanged { old_email, .. } => old_email,
            _ => email,
        }
    }
}

/// What the [`on_security_event`](crate::Hooks::on_security_event) hook leaves to fastusers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Notify {
    /// fastusers emails its notice, when the manager has a mailer (the default).
    #[default]
    Email,
    /// The hook told the user itself (a text message, a push notification), or decided that
    /// nobody is told: no email.
    Handled,
}

/// An email address with most of it hidden, to show where mail now goes without giving the
/// address away to whoever reads the old mailbox: the first character of the local part and of
/// the domain's first label, the rest of each as `***`, and the domain's other labels.
///
/// ```
/// use fastusers::mail::mask_email;
/// assert_eq!(mask_email("lancelot@camelot.bt"), "l***@c***.bt");
/// assert_eq!(mask_email("x@mail.example.com"), "x***@m***.example.com");
/// assert_eq!(mask_email("not an address"), "***");
/// ```
pub fn mask_email(email: &str) -> String {
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return "***".to_owned();
    };
    let (label, rest) = domain.split_once('.').unwrap_or((domain, ""));
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!(".{rest}")
    };
    format!("{}***@{}***{rest}", first(local), first(label))
}
