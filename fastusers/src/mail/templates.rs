//! The verification and reset messages and the security notices: the [`Templates`] trait and
//! its default, [`LinkTemplates`].

use super::Message;
use crate::notice::{SecurityEvent, mask_email};

/// Writes the verification and reset messages and the security notices. Implement it to send
/// your own; the default is [`LinkTemplates`].
pub trait Templates: Send + Sync + 'static {
    /// The message that asks `email`'s owner to verify it with `token`.
    fn verify(&self, email: &str, token: &str) -> Message;

    /// The message that lets `email`'s owner reset their password with `token`.
    fn reset(&self, email: &str, token: &str) -> Message;

    /// The notice of a change to the account of `email` (its address after the change), or
    /// `None` to send none; it goes to [`event.recipient(email)`](SecurityEvent::recipient).
    /// Default: [`notice_message`] for an application named "your account". Write one that
    /// names no token and no secret.
    fn notice(&self, email: &str, event: &SecurityEvent) -> Option<Message> {
        Some(notice_message("your account", email, event))
    }
}

/// fastusers' notice of a security event, for an application named `app_name`, to the owner
/// of the account whose address is now `email` (the old address, for an email change): what
/// changed, and what to do if it was not them. It names no token and no secret, and shows a
/// new address or a provider account's address [masked](mask_email).
///
/// ```
/// use fastusers::mail::notice_message;
/// use fastusers::mail::SecurityEvent;
///
/// let event = SecurityEvent::EmailChanged {
///     old_email: "arthur@camelot.bt".into(),
///     new_email: "arthur@avalon.bt".into(),
/// };
/// let message = notice_message("Camelot", "arthur@avalon.bt", &event);
/// assert_eq!(message.to, "arthur@camelot.bt");
/// assert_eq!(message.subject, "The email address of your Camelot account was changed");
/// assert!(message.text.contains("to a***@a***.bt") && !message.text.contains("avalon"));
/// ```
pub fn notice_message(app_name: &str, email: &str, event: &SecurityEvent) -> Message {
    let (subject, what) = match event {
        SecurityEvent::PasswordChanged => (
            format!("Your {app_name} password was changed"),
            format!("The password of {email} for {app_name} was just changed."),
        ),
        SecurityEvent::PasswordReset => (
            format!("Your {app_name} password was reset"),
            format!(
                "The password of {email} for {app_name} was just reset, with a link sent to \
                 this address."
            ),
        ),
        SecurityEvent::EmailChanged {
            old_email,
            new_email,
        } => (
            format!("The email address of your {app_name} account was changed"),
            format!(
                "The email address of your {app_name} account was changed from {old_email} to \
                 {}. Messages about the account now go to the new address.",
                mask_email(new_email)
            ),
        ),
        SecurityEvent::OAuthAccountLinked {
            provider,
            account_email,
        } => (
            format!("A {provider} account was linked to your {app_name} account"),
            format!(
                "A {provider} account ({}) was linked to {email} for {app_name}: it can now be \
                 used to log in.",
                mask_email(account_email)
            ),
        ),
        SecurityEvent::OAuthAccountUnlinked { provider } => (
            format!("A {provider} account was unlinked from your {app_name} account"),
            format!(
                "The {provider} account linked to {email} for {app_name} was unlinked: it can \
                 no longer be used to log in."
            ),
        ),
    };
    let warning = "If this was you, there is nothing to do. If it was not, someone else may \
                   have access to your account: contact us at once.";
    Message {
        to: event.recipient(email).to_owned(),
        subject,
        text: format!("Hello,\n\n{what}\n\n{warning}\n"),
        html: format!(
            "<!DOCTYPE html>\n<html><body>\n<p>Hello,</p>\n<p>{}</p>\n<p>{}</p>\n</body></html>\n",
            escape(&what),
            escape(warning),
        ),
    }
}

/// Plain-text and HTML messages with a link to the application's frontend, made from two URL
/// templates in which `{token}` stands for the token.
///
/// ```
/// use fastusers::mail::{LinkTemplates, Templates};
///
/// let templates = LinkTemplates::new(
///     "https://app.example/verify?token={token}",
///     "https://app.example/reset-password?token={token}",
/// )
/// .app_name("Example");
/// let message = templates.reset("ann@example.com", "abc.def.ghi");
/// assert_eq!(message.to, "ann@example.com");
/// assert_eq!(message.subject, "Reset your Example password");
/// assert!(message.text.contains("https://app.example/reset-password?token=abc.def.ghi"));
/// assert!(message.html.contains(r#"href="https://app.example/reset-password?token=abc.def.ghi""#));
/// ```
#[derive(Debug, Clone)]
pub struct LinkTemplates {
    verify_url: String,
    reset_url: String,
    app_name: String,
}

impl LinkTemplates {
    /// Links made from these templates; `{token}` is replaced by the token (a JWT, whose
    /// characters are all URL-safe).
    pub fn new(verify_url: impl Into<String>, reset_url: impl Into<String>) -> Self {
        Self {
            verify_url: verify_url.into(),
            reset_url: reset_url.into(),
            app_name: "your account".to_owned(),
        }
    }

    /// The application's name, as the messages say it. Default: "your account".
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = name.into();
        self
    }

    fn message(&self, to: &str, subject: String, lead: &str, link: &str, action: &str) -> Message {
        let ignore = "If you did not ask for this, you can ignore this email.";
        Message {
            to: to.to_owned(),
            subject,
            text: format!("Hello,\n\n{lead}\n\n{link}\n\n{ignore}\n"),
            html: format!(
                "<!DOCTYPE html>\n<html><body>\n<p>Hello,</p>\n<p>{lead}</p>\n\
                 <p><a href=\"{href}\">{action}</a></p>\n\
                 <p>Or paste this link into your browser: {href}</p>\n<p>{ignore}</p>\n\
                 </body></html>\n",
                lead = escape(lead),
                href = escape(link),
                action = escape(action),
            ),
        }
    }
}

impl Templates for LinkTemplates {
    fn verify(&self, email: &str, token: &str) -> Message {
        let lead = format!(
            "Please confirm that {email} is your email address for {} by opening this link:",
            self.app_name
        );
        self.message(
            email,
            format!("Verify your {} email address", self.app_name),
            &lead,
            &self.verify_url.replace("{token}", token),
            "Verify my email address",
        )
    }

    fn notice(&self, email: &str, event: &SecurityEvent) -> Option<Message> {
        Some(notice_message(&self.app_name, email, event))
    }

    fn reset(&self, email: &str, token: &str) -> Message {
        let lead = format!(
            "Someone asked to reset the password of {email} for {}. To choose a new one, open \
             this link:",
            self.app_name
        );
        self.message(
            email,
            format!("Reset your {} password", self.app_name),
            &lead,
            &self.reset_url.replace("{token}", token),
            "Choose a new password",
        )
    }
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        let t = LinkTemplates::new("https://a.example/v?t={token}&x=<1>", "r").app_name("<b>");
        let m = t.verify("a\"b@example.com", "tok");
        assert!(
            m.html
                .contains("href=\"https://a.example/v?t=tok&amp;x=&lt;1&gt;\"")
        );
        assert!(m.html.contains("a&quot;b@example.com"));
        assert!(!m.html.contains("<b>"));
        assert!(m.text.contains("https://a.example/v?t=tok&x=<1>"));
    }
}
