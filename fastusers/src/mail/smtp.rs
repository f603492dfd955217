//! [`SmtpMailer`]: delivery through an SMTP server, on lettre.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{MailError, Mailer, Message};

/// Sends messages through an SMTP server, as multipart emails with a plain-text and an HTML
/// part, one connection per message (verification and reset emails are rare; no pool means no
/// background task, so the mailer can be built and dropped outside a Tokio runtime).
///
/// The server is given as a URL, in the form lettre uses:
///
/// | URL | connection |
/// |---|---|
/// | `smtp://host:25` | plain, no encryption: only for a relay on the same machine or network |
/// | `smtp://host:587?tls=required` | STARTTLS, refusing a server that does not offer it |
/// | `smtp://host:587?tls=opportunistic` | STARTTLS when the server offers it, plain otherwise |
/// | `smtps://host:465` | implicit TLS from the first byte |
///
/// Credentials go in the URL (`smtp://user:password@host:587?tls=required`, percent-encoded);
/// the default ports are 25, 587 and 465. Server certificates are checked against the Mozilla
/// roots and any [`root_certificate`](SmtpMailerBuilder::root_certificate) added.
///
/// ```
/// use fastusers::mail::SmtpMailer;
///
/// let mailer = SmtpMailer::builder(
///     "smtp://apikey:s3cret@smtp.example.com:587?tls=required",
///     "Example <noreply@example.com>",
/// )
/// .build()
/// .unwrap();
/// # let _ = mailer;
/// ```
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the transport: it would show the credentials.
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// Configures an [`SmtpMailer`]; made by [`SmtpMailer::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SmtpMailerBuilder {
    url: String,
    from: String,
    roots: Vec<Vec<u8>>,
    timeout: Duration,
}

impl SmtpMailer {
    /// A mailer for the server at `url`, sending as `from` (`"Name <address>"` or an address).
    pub fn builder(url: impl Into<String>, from: impl Into<String>) -> SmtpMailerBuilder {
        SmtpMailerBuilder {
            url: url.into(),
            from: from.into(),
            roots: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// How the URL asks to connect.
enum Security {
    Plain,
    StartTls { required: bool },
    Implicit,
}

impl SmtpMailerBuilder {
    /// Also trusts this root certificate (PEM), for a server with a private certificate
    /// authority.
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots.push(pem.into());
        self
    }

    /// How long to wait for the server at each step. Default: 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the URL, the sender and the certificates, and makes the mailer. Nothing is
    /// connected until the first message.
    pub fn build(self) -> Result<SmtpMailer, MailError> {
        let config = |reason: String| MailError::Config(reason);
        let from: Mailbox = self.from.parse().map_err(|e| MailError::Address {
            address: self.from.clone(),
            reason: format!("{e}"),
        })?;
        let url = url::Url::parse(&self.url)
            // (The URL itself stays out of the message: it may hold a password.)
            .map_err(|e| config(format!("SMTP URL: {e}")))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| config("the SMTP URL has no host".to_owned()))?
            // An IPv6 address comes bracketed; the connection wants it bare.
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => Security::Plain,
            ("smtp", Some("required")) => Security::StartTls { required: true },
            ("smtp", Some("opportunistic")) => Security::StartTls { required: false },
            ("smtps", None) => Security::Implicit,
            (scheme, tls) => {
                return Err(config(format!(
                    "SMTP URL: unsupported scheme {scheme:?} with tls={tls:?}; use smtp://, \
                     smtp://...?tls=required, smtp://...?tls=opportunistic or smtps://"
                )));
            }
        };
        let port = url.port().unwrap_or(match security {
            Security::Plain => 25,
            Security::StartTls { .. } => 587,
            Security::Implicit => 465,
        });

        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .timeout(Some(self.timeout));
        if !matches!(security, Security::Plain) {
            let mut params = TlsParameters::builder(host.clone());
            for pem in &self.roots {
                let cert = Certificate::from_pem(pem)
                    .map_err(|e| config(format!("root certificate: {e}")))?;
                params = params.add_root_certificate(cert);
            }
            let params = params
                .build()
                .map_err(|e| config(format!("TLS parameters: {e}")))?;
            builder = builder.tls(match security {
                Security::StartTls { required: true } => Tls::Required(params),
                Security::StartTls { required: false } => Tls::Opportunistic(params),
                _ => Tls::Wrapper(params),
            });
        }
        if !url.username().is_empty() {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|s| s.into_owned())
                    .map_err(|_| config("SMTP URL: credentials are not UTF-8".to_owned()))
            };
            let user = decode(url.username())?;
            let password = decode(url.password().unwrap_or_default())?;
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
            server: format!("{}:{port}", host),
        })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        let to: Mailbox = message.to.parse().map_err(|e| MailError::Address {
            address: message.to.clone(),
            reason: format!("{e}"),
        })?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|e| MailError::Address {
                address: message.to.clone(),
                reason: format!("{e}"),
            })?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Transport {
                server: self.server.clone(),
                source: e.into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(url: &str) -> String {
        SmtpMailer::builder(url, "a@example.com")
            .build()
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn urls() {
        for ok in [
            "smtp://localhost",
            "smtp://u:p%40ss@mail.example:2525?tls=required",
            "smtp://mail.example?tls=opportunistic",
            "smtps://mail.example",
            "smtp://[::1]:25",
        ] {
            SmtpMailer::builder(ok, "App <a@example.com>")
                .build()
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        assert!(error("http://mail.example").contains("unsupported scheme"));
        assert!(error("smtp://mail.example?tls=yes").contains("unsupported scheme"));
        assert!(error("smtp:///").contains("no host"));
        assert!(error("not a url").contains("SMTP URL"));
        let e = SmtpMailer::builder("smtp://localhost", "not an address")
            .build()
            .unwrap_err();
        assert!(matches!(e, MailError::Address { .. }), "{e}");
    }

    #[test]
    fn passwords_stay_out_of_errors_and_debug() {
        assert!(!error("smtp://u:secret@mail.example:99999").contains("secret"));
        assert!(!error("smtp://u:secret@mail.example?tls=bogus").contains("secret"));
        let mailer = SmtpMailer::builder("smtp://u:secret@h:1", "a@example.com")
            .build()
            .unwrap();
        assert!(!format!("{mailer:?}").contains("secret"));
    }
}
