//! Mail: the settings (`SMTP_URL` or `MAIL_OUTBOX_DIR`, `EMAIL_FROM`, the link templates,
//! the token lifetimes, the limits), the mails' text, and the background [`sender`] that
//! delivers what the outbox table holds.
//!
//! A change that mails writes its mail to the outbox in its own transaction (see
//! `store::mail`), so a slow or absent mail server never holds up a call and a crash
//! between commit and send only delays the mail.

pub mod sender;

use std::{path::PathBuf, time::Duration};

use common::config::parse_duration;
use common::time::micros;
use uuid::Uuid;

use crate::{
    domain::RefreshToken,
    store::{NewToken, OutboxMail, TokenPurpose},
};

/// The per-account and per-address limits count mails in windows of this length.
pub const MAIL_WINDOW: Duration = Duration::from_secs(3600);

/// What `{token}` is replaced with in the link templates.
const TOKEN_PLACEHOLDER: &str = "{token}";

/// The mail settings, as flags with environment fallbacks.
#[derive(clap::Args, Clone, Debug)]
pub struct MailArgs {
    /// Mail server: `smtp://host:port` (a local relay, no TLS), `smtps://user:pass@host`
    /// (implicit TLS), `smtp://user:pass@host?tls=required` (STARTTLS).
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Instead of SMTP: write each mail as an `.eml` file into this folder (local use).
    #[arg(long, env = "MAIL_OUTBOX_DIR")]
    pub mail_outbox_dir: Option<PathBuf>,
    /// The sender of every mail (`name@example.com` or `Name <name@example.com>`).
    #[arg(long, env = "EMAIL_FROM", default_value = "no-reply@localhost")]
    pub email_from: String,
    /// The verification link, where `{token}` is replaced by the token (required with
    /// a delivery: `https://app.example.com/verify-email?token={token}`).
    #[arg(long, env = "VERIFY_EMAIL_URL")]
    pub verify_email_url: Option<String>,
    /// The password-reset link, where `{token}` is replaced by the token (required with
    /// a delivery).
    #[arg(long, env = "RESET_PASSWORD_URL")]
    pub reset_password_url: Option<String>,
    /// How long a verification link works.
    #[arg(long, env = "EMAIL_VERIFICATION_TTL", default_value = "24h", value_parser = parse_duration)]
    pub email_verification_ttl: Duration,
    /// How long a password-reset link works.
    #[arg(long, env = "PASSWORD_RESET_TTL", default_value = "30m", value_parser = parse_duration)]
    pub password_reset_ttl: Duration,
    /// Mails per account per hour.
    #[arg(long, env = "EMAIL_MAX_PER_HOUR", default_value_t = 5)]
    pub email_max_per_hour: u32,
    /// Mails asked for from one client address (IPv6: its /64) per hour.
    #[arg(long, env = "EMAIL_MAX_PER_HOUR_PER_ADDRESS", default_value_t = 20)]
    pub email_max_per_hour_per_address: u32,
}

/// What the use cases need to write mails.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `VERIFY_EMAIL_URL`, checked to hold `{token}`.
    pub verify_url: String,
    /// `RESET_PASSWORD_URL`, checked to hold `{token}`.
    pub reset_url: String,
    /// How long a verification link works (`EMAIL_VERIFICATION_TTL`).
    pub verification_ttl: Duration,
    /// How long a reset link works (`PASSWORD_RESET_TTL`).
    pub reset_ttl: Duration,
    /// Mails per account, and reset requests per email address (known or not), in each
    /// [`MAIL_WINDOW`] (`EMAIL_MAX_PER_HOUR`).
    pub max_per_hour: u32,
    /// Mails asked for from one client address bucket in each [`MAIL_WINDOW`]
    /// (`EMAIL_MAX_PER_HOUR_PER_ADDRESS`).
    pub max_per_hour_per_address: u32,
}

impl MailArgs {
    /// The settings, checked (for a configured delivery): both templates set, each
    /// holding `{token}`.
    pub fn settings(&self) -> Result<MailSettings, String> {
        let template = |name: &str, url: &Option<String>| match url {
            Some(url) if url.contains(TOKEN_PLACEHOLDER) => Ok(url.clone()),
            Some(_) => Err(format!("{name} must contain {TOKEN_PLACEHOLDER}")),
            None => Err(format!(
                "{name} must be set when email delivery is configured (a link with {TOKEN_PLACEHOLDER})"
            )),
        };
        Ok(MailSettings {
            verify_url: template("VERIFY_EMAIL_URL", &self.verify_email_url)?,
            reset_url: template("RESET_PASSWORD_URL", &self.reset_password_url)?,
            verification_ttl: self.email_verification_ttl,
            reset_ttl: self.password_reset_ttl,
            max_per_hour: self.email_max_per_hour,
            max_per_hour_per_address: self.email_max_per_hour_per_address,
        })
    }
}

/// "24 hours", "30 minutes": how long a link works, for the mail's text.
fn lifetime(d: Duration) -> String {
    let minutes = d.as_secs().div_ceil(60).max(1);
    match minutes {
        m if m % 60 == 0 && m >= 120 => format!("{} hours", m / 60),
        60 => "1 hour".into(),
        1 => "1 minute".into(),
        m => format!("{m} minutes"),
    }
}

impl MailSettings {
    /// A new token of `purpose` for `email`, and its mail to `email` for `username`.
    pub fn compose(
        &self,
        purpose: TokenPurpose,
        username: &str,
        email: &str,
        now: i64,
    ) -> (NewToken, OutboxMail) {
        let token = RefreshToken::generate();
        let (template, ttl) = match purpose {
            TokenPurpose::Verify => (&self.verify_url, self.verification_ttl),
            TokenPurpose::Reset => (&self.reset_url, self.reset_ttl),
        };
        // base64url is URL-safe as it is.
        let link = template.replace(TOKEN_PLACEHOLDER, token.expose());
        let within = lifetime(ttl);
        let (kind, subject, body) = match purpose {
            TokenPurpose::Verify => (
                "verify_email",
                "Verify your email address",
                format!(
                    "Hello {username},\r\n\r\nTo confirm that {email} is the address of your account, \
                     open this link within {within}:\r\n\r\n{link}\r\n\r\n\
                     If you did not ask for this, ignore this mail.\r\n"
                ),
            ),
            TokenPurpose::Reset => (
                "reset_password",
                "Reset your password",
                format!(
                    "Hello {username},\r\n\r\nSomeone asked to reset the password of your account. \
                     To choose a new one, open this link within {within}:\r\n\r\n{link}\r\n\r\n\
                     If it was not you, ignore this mail: your password stays as it is.\r\n"
                ),
            ),
        };
        let token = NewToken {
            hash: token.hash(),
            purpose,
            email_key: email.to_lowercase(),
            expire_time: now.saturating_add(micros(ttl)),
        };
        let mail = OutboxMail {
            id: Uuid::now_v7(),
            kind,
            recipient: email.to_owned(),
            subject: subject.to_owned(),
            body,
        };
        (token, mail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_well() {
        assert_eq!(lifetime(Duration::from_secs(24 * 3600)), "24 hours");
        assert_eq!(lifetime(Duration::from_secs(30 * 60)), "30 minutes");
        assert_eq!(lifetime(Duration::from_secs(3600)), "1 hour");
        assert_eq!(lifetime(Duration::from_secs(2)), "1 minute");
    }
}
