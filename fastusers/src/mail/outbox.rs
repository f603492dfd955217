//! [`Outbox`]: the development mailer, which writes messages instead of sending them.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{MailError, Mailer, Message};

/// A mailer for development: each message is written, readable, to the console (standard
/// output, the text part) or appended to a file (both parts), instead of being sent.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use fastusers::mail::{Mailer, Message, Outbox};
///
/// let path = std::env::temp_dir().join(format!("outbox-doc-{}.txt", std::process::id()));
/// let outbox = Outbox::file(&path);
/// let message = Message {
///     to: "ann@example.com".into(),
///     subject: "Hi".into(),
///     text: "Hello".into(),
///     html: "<p>Hello</p>".into(),
/// };
/// outbox.send(&message).await.unwrap();
/// let written = std::fs::read_to_string(&path).unwrap();
/// assert!(written.contains("To: ann@example.com\nSubject: Hi\n"));
/// # std::fs::remove_file(&path).unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Outbox {
    target: Target,
    // One message at a time, so that two messages never interleave.
    lock: Arc<Mutex<()>>,
}

#[derive(Debug, Clone)]
enum Target {
    Console,
    File(PathBuf),
}

impl Outbox {
    /// Writes each message to standard output.
    pub fn console() -> Self {
        Self::with(Target::Console)
    }

    /// Appends each message to the file at `path` (created if missing).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::with(Target::File(path.into()))
    }

    fn with(target: Target) -> Self {
        Self {
            target,
            lock: Arc::new(Mutex::new(())),
        }
    }
}

/// The message as the outbox writes it: both parts to a file, the text part to the console.
fn render(message: &Message, target: &Target) -> String {
    let html = match target {
        Target::File(_) => format!("----- html -----\n{}\n", message.html.trim_end()),
        Target::Console => String::new(),
    };
    format!(
        "----- email -----\nTo: {}\nSubject: {}\n\n{}\n{html}----- end -----\n",
        message.to,
        message.subject,
        message.text.trim_end(),
    )
}

#[async_trait::async_trait]
impl Mailer for Outbox {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        let text = render(message, &self.target);
        let target = self.target.clone();
        let lock = self.lock.clone();
        // File and console writes block: keep them off the async workers.
        tokio::task::spawn_blocking(move || -> Result<(), MailError> {
            let _guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match target {
                Target::Console => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(text.as_bytes())?;
                    out.flush()?;
                }
                Target::File(path) => {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)?
                        .write_all(text.as_bytes())?;
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| MailError::Io(std::io::Error::other(e)))?
    }
}
