//! The background sender: claims due mails from the outbox (one at a time, so replicas
//! share the work), sends each through SMTP or into a folder, marks it sent; a failure
//! is retried with exponential back-off, and after [`MAX_ATTEMPTS`] the mail is given
//! up with a logged error. Log lines name a mail's kind and id, never its body (the
//! link holds a token) nor its recipient.

use std::{sync::Arc, time::Duration};

use common::time::{Clock, micros};
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Body, Mailbox, header::ContentTransferEncoding, header::ContentType},
};
use tokio::{sync::Notify, task::JoinHandle};

use super::MailArgs;
use crate::store::{DueMail, Store};

/// Attempts before a mail is given up: with the back-off below, about an hour.
pub const MAX_ATTEMPTS: i64 = 15;
/// The first retry's delay; each further one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// How often the outbox is looked at when nothing wakes the sender (mails queued by
/// another replica, retries that fall due).
const POLL: Duration = Duration::from_secs(1);
/// How long a claim holds; longer than a send can take ([`SMTP_TIMEOUT`]).
const LEASE: Duration = Duration::from_secs(120);
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where mails go.
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
}

/// A configured delivery: the transport and the sender address.
pub struct Delivery {
    transport: Transport,
    from: Mailbox,
    /// For the start-up line: `smtp host:port` or the folder (never credentials).
    pub description: String,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

impl Delivery {
    /// The delivery `args` configure; `None` when neither `SMTP_URL` nor
    /// `MAIL_OUTBOX_DIR` is set. The folder is created if missing.
    pub fn from_args(args: &MailArgs) -> Result<Option<Self>, String> {
        let from: Mailbox = args
            .email_from
            .parse()
            .map_err(|e| format!("EMAIL_FROM is not a mail address: {e}"))?;
        let (transport, description) = match (&args.smtp_url, &args.mail_outbox_dir) {
            (Some(_), Some(_)) => return Err("set SMTP_URL or MAIL_OUTBOX_DIR, not both".into()),
            (None, None) => return Ok(None),
            (Some(url), None) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    // The error names the scheme or parameter, not the URL's password.
                    .map_err(|e| format!("SMTP_URL: {e}"))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                (Transport::Smtp(transport), format!("smtp {}", smtp_host(url)))
            }
            (None, Some(dir)) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("MAIL_OUTBOX_DIR {}: {e}", dir.display()))?;
                (
                    Transport::File(AsyncFileTransport::<Tokio1Executor>::new(dir)),
                    format!("files in {}", dir.display()),
                )
            }
        };
        Ok(Some(Self {
            transport,
            from,
            description,
        }))
    }

    async fn send(&self, mail: &DueMail) -> Result<(), String> {
        let to: Mailbox = mail
            .recipient
            .parse()
            .map_err(|e| format!("recipient is not a mail address: {e}"))?;
        let body = body(&mail.body);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(message_id(mail)))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| format!("building the message: {e}"))?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
            Transport::File(file) => file.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
        }
    }
}

/// ASCII text with lines of at most 998 characters goes as 7bit (RFC 5322), so a link
/// longer than 76 characters stays as it is in the raw mail (lettre would pick
/// quoted-printable, which breaks it); anything else is encoded.
fn body(text: &str) -> Body {
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let plain = text.is_ascii() && !text.contains('\0') && text.split("\r\n").all(|l| l.len() <= 998);
    if plain {
        Body::dangerous_pre_encoded(text.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text)
    }
}

/// The `Message-ID` of a mail: its outbox id, the same on every attempt.
pub fn message_id(mail: &DueMail) -> String {
    format!("<{}@todo-grpc>", mail.id)
}

/// `host:port` of an SMTP URL, without scheme, credentials or parameters.
fn smtp_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or("").to_owned()
}

/// The delay before attempt `attempts + 1`.
fn backoff(attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    FIRST_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

/// Starts the sender; `wake` makes it look at the outbox at once (after a commit that
/// queued a mail). Runs until aborted.
pub fn start(store: Store, delivery: Arc<Delivery>, wake: Arc<Notify>, clock: Clock) -> JoinHandle<()> {
    let me = uuid::Uuid::new_v4().to_string();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
            // One mail per claim, until none is due: replicas interleave.
            loop {
                let now = clock.now_micros();
                let due = match store.claim_due_mail(&me, now, now + micros(LEASE), 1).await {
                    Ok(due) => due,
                    Err(e) => {
                        tracing::warn!(error = %e, "mail outbox not readable; retrying");
                        break;
                    }
                };
                let Some(mail) = due.into_iter().next() else { break };
                deliver(&store, &delivery, &me, &mail, &clock).await;
            }
        }
    })
}

async fn deliver(store: &Store, delivery: &Delivery, me: &str, mail: &DueMail, clock: &Clock) {
    let id = message_id(mail);
    let kind = mail.kind.as_str();
    let result = delivery.send(mail).await;
    let now = clock.now_micros();
    let recorded = match result {
        Ok(()) => {
            tracing::info!(kind, message_id = %id, "mail sent");
            store.mail_sent(mail.id, me, now).await
        }
        Err(e) if mail.attempts + 1 >= MAX_ATTEMPTS => {
            tracing::error!(kind, message_id = %id, attempts = mail.attempts + 1, error = %e, "mail given up");
            store.mail_failed(mail.id, me, now, now, true).await
        }
        Err(e) => {
            let delay = backoff(mail.attempts);
            tracing::warn!(kind, message_id = %id, attempt = mail.attempts + 1, retry_in_s = delay.as_secs(), error = %e, "mail not sent; will retry");
            store
                .mail_failed(mail.id, me, now, now + micros(delay), false)
                .await
        }
    };
    if let Err(e) = recorded {
        // The claim runs out and the mail is tried again: at worst sent twice.
        tracing::warn!(kind, message_id = %id, error = %e, "mail outcome not recorded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(14), MAX_BACKOFF);
        let total: u64 = (0..MAX_ATTEMPTS - 1).map(|a| backoff(a).as_secs()).sum();
        assert!((1800..=7200).contains(&total), "{total}");
    }

    #[test]
    fn long_links_stay_whole() {
        let link = format!(
            "https://app.example.com/account/verify-email?token={}",
            "x".repeat(43)
        );
        let b = body(&format!("Hello,\n\n{link}\n"));
        assert_eq!(b.encoding(), ContentTransferEncoding::SevenBit);
        assert!(String::from_utf8(b.into_vec()).unwrap().contains(&link));
        assert_ne!(body("caf\u{e9}").encoding(), ContentTransferEncoding::SevenBit);
    }

    #[test]
    fn smtp_host_hides_credentials() {
        assert_eq!(
            smtp_host("smtps://user:secret@mail.example.com:465"),
            "mail.example.com:465"
        );
        assert_eq!(smtp_host("smtp://127.0.0.1:2525?tls=required"), "127.0.0.1:2525");
    }
}
