//! The mail use cases: changing and verifying the address, resetting a forgotten
//! password. Every mail is throttled per account and per client address, and written
//! to the outbox in the transaction of its change (see `store::mail`).

use std::net::IpAddr;

use common::time::micros;
use token::UserId;

use super::{Accounts, Mailer, Origin};
use crate::{
    domain::{Email, Password, RefreshToken, Violation},
    error::AuthError,
    events::{ClientInfo, Event, EventKind},
    mail::MAIL_WINDOW,
    store::{MailCount, TokenPurpose, UserRecord},
};

/// What an unknown, used, expired or superseded token gets: one answer for all.
fn invalid_token() -> AuthError {
    Violation::new("token", "is invalid, used or expired").into()
}

fn addr_key(addr: IpAddr) -> String {
    format!("mail:addr:{}", common::client_addr::bucket(addr))
}

impl Accounts {
    /// The mailer, or `FAILED_PRECONDITION` when no delivery is configured.
    pub(super) fn mailer(&self) -> Result<&Mailer, AuthError> {
        self.mailer
            .as_ref()
            .ok_or(AuthError::FailedPrecondition("email delivery is not configured"))
    }

    /// Tells the sender a mail is waiting (after the commit that queued it).
    pub(super) fn wake_sender(&self) {
        if let Some(mailer) = &self.mailer {
            mailer.wake.notify_one();
        }
    }

    fn account_count(&self, mailer: &Mailer, user: UserId) -> MailCount {
        MailCount {
            key: format!("mail:user:{user}"),
            max: i64::from(mailer.settings.max_per_hour),
        }
    }

    fn address_count(&self, mailer: &Mailer, addr: Option<IpAddr>) -> Option<MailCount> {
        addr.map(|addr| MailCount {
            key: addr_key(addr),
            max: i64::from(mailer.settings.max_per_hour_per_address),
        })
    }

    /// Counts a mail for the user and the address; `Throttled` (with the wait) over a limit.
    async fn take_mail_budget(
        &self,
        mailer: &Mailer,
        user: &UserRecord,
        addr: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let now = self.clock.now_micros();
        let mut counts = vec![self.account_count(mailer, user.id)];
        counts.extend(self.address_count(mailer, addr));
        if let Some(until) = self.store.count_mail(&counts, now, micros(MAIL_WINDOW)).await? {
            tracing::info!(user_id = %user.id, "mail throttled");
            return Err(crate::throttle::Throttle::throttled(until, now));
        }
        Ok(())
    }

    /// Sets a new address after re-checking the password (throttled like Login); it is
    /// unverified until the mailed link is followed.
    pub async fn change_email(
        &self,
        user: &UserRecord,
        password: Password,
        email: Email,
        origin: &Origin,
    ) -> Result<(), AuthError> {
        let mailer = self.mailer()?;
        self.check_password(user, "password", password, origin.addr, &origin.client)
            .await?;
        self.take_mail_budget(mailer, user, origin.addr).await?;
        let now = self.clock.now_micros();
        let (token, mail) =
            mailer
                .settings
                .compose(TokenPurpose::Verify, &user.username, email.as_str(), now);
        let event = Event::new(EventKind::EmailChanged, &origin.client, Some(origin.session));
        self.store
            .change_email(user.id, email.as_str(), &token, &mail, now, event)
            .await?;
        self.wake_sender();
        tracing::info!(user_id = %user.id, message_id = %mail.id, "email changed; verification mail queued");
        Ok(())
    }

    /// (Re)sends the verification mail; the earlier link stops working.
    pub async fn send_verification_email(
        &self,
        user: &UserRecord,
        addr: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        let mailer = self.mailer()?;
        let Some(email) = &user.email else {
            return Err(AuthError::FailedPrecondition("the account has no email address"));
        };
        if user.email_verified {
            return Err(AuthError::FailedPrecondition(
                "the email address is already verified",
            ));
        }
        self.take_mail_budget(mailer, user, addr).await?;
        let now = self.clock.now_micros();
        let (token, mail) = mailer
            .settings
            .compose(TokenPurpose::Verify, &user.username, email, now);
        self.store.send_verification(user.id, &token, &mail, now).await?;
        self.wake_sender();
        tracing::info!(user_id = %user.id, message_id = %mail.id, "verification mail queued");
        Ok(())
    }

    /// Follows a verification link.
    pub async fn verify_email(&self, presented: &str, client: &ClientInfo) -> Result<(), AuthError> {
        self.mailer()?;
        let token = RefreshToken::parse(presented).ok_or_else(invalid_token)?;
        let event = Event::new(EventKind::EmailVerified, client, None);
        if !self
            .store
            .verify_email(&token.hash(), self.clock.now_micros(), event)
            .await?
        {
            return Err(invalid_token());
        }
        tracing::info!("email verified");
        Ok(())
    }

    /// Mails a reset link to the account with this address, if there is one, within
    /// the limits. The same work either way (one transaction that writes the counts),
    /// and the same answer: nothing here tells whether the address is known.
    pub async fn request_password_reset(
        &self,
        email: Email,
        addr: Option<IpAddr>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let mailer = self.mailer()?;
        let now = self.clock.now_micros();
        let key = email.key();
        let event = Event::new(EventKind::PasswordResetRequested, client, None);
        let settings = &mailer.settings;
        let queued = self
            .store
            .request_password_reset(
                &key,
                |user| self.account_count(mailer, user),
                // The address's own count, so unknown addresses are limited alike.
                MailCount {
                    key: format!("mail:email:{key}"),
                    max: i64::from(settings.max_per_hour),
                },
                self.address_count(mailer, addr),
                now,
                micros(MAIL_WINDOW),
                |username, address| settings.compose(TokenPurpose::Reset, username, address, now),
                event,
            )
            .await?;
        if queued {
            self.wake_sender();
        }
        // One line whatever happened, so the log does not tell either.
        tracing::info!("password reset requested");
        Ok(())
    }

    /// Sets a new password with a mailed token: every session ends (the revocation feed
    /// tells the todo-services), a lock-out on the name is lifted, the address counts
    /// as verified.
    pub async fn reset_password(
        &self,
        presented: &str,
        new: Password,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.mailer()?;
        let token = RefreshToken::parse(presented).ok_or_else(invalid_token)?;
        // A made-up token costs no hash (this RPC is public and has no throttle of its
        // own); a live one is hashed for before it is used up, so a busy hasher does not
        // waste the link. The use itself is checked again, atomically, below.
        if !self
            .store
            .reset_token_is_live(&token.hash(), self.clock.now_micros())
            .await?
        {
            return Err(invalid_token());
        }
        let hash = self.hasher.hash(new).await?;
        let event = Event::new(EventKind::PasswordReset, client, None);
        let Some(user_id) = self
            .store
            .reset_password(&token.hash(), &hash, self.clock.now_micros(), event)
            .await?
        else {
            return Err(invalid_token());
        };
        tracing::info!(user_id = %user_id, "password reset; all sessions revoked");
        Ok(())
    }
}
