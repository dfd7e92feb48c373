//! Login and registration throttling, counted in the database so every replica sees the
//! same counts.
//!
//! Every password check (login, and a signed-in user's re-check) first takes one
//! attempt from the budget of the (lower-cased) username and of the client address's
//! bucket, atomically in the database, and only then hashes. A key has `max_failures`
//! attempts a window; the attempt after them finds none left and locks the key for a
//! delay that doubles with each lock-out (capped). So of any number of concurrent
//! attempts at most the budget is evaluated, and a right password among them is refused
//! when the key was locked while it was checked. A right password gives the name its
//! budget back (and the address its unit); a wrong one keeps its unit spent. Refusals are
//! `RESOURCE_EXHAUSTED` with a `RetryInfo`. Names that do not exist are counted exactly
//! like names that do, so the answers reveal nothing. Registrations are counted per
//! client address bucket.

use std::{net::IpAddr, time::Duration};

use common::time::{Clock, micros};

use crate::{
    error::AuthError,
    store::{Attempt, Budget, Store},
};

/// The figures, all configurable.
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Password attempts per username in a window (`LOGIN_MAX_FAILURES`); a right
    /// password gives them back.
    pub max_failures: u32,
    /// Password attempts per client address bucket in a window
    /// (`LOGIN_MAX_FAILURES_PER_ADDRESS`), over all names tried from it.
    pub max_failures_per_address: u32,
    /// The window both attempt budgets are counted in (`LOGIN_FAILURE_WINDOW`).
    pub window: Duration,
    /// The first lock-out; each further one doubles it, up to `max_lockout`.
    pub lockout: Duration,
    /// The longest lock-out, however many came before (`LOGIN_LOCKOUT_MAX`).
    pub max_lockout: Duration,
    /// Registrations per client address bucket in a registration window
    /// (`REGISTER_MAX_PER_ADDRESS`).
    pub max_registrations_per_address: u32,
    /// The window registrations are counted in (`REGISTER_WINDOW`).
    pub registration_window: Duration,
}

/// After a day without attempts a key's lock-out history is forgotten.
pub const LOCKOUT_MEMORY: Duration = Duration::from_secs(24 * 3600);

fn user_key(username: &str) -> String {
    format!("user:{}", username.to_lowercase())
}

/// IPv6 by /64, IPv4 by address (see `common::client_addr`).
fn addr_key(addr: IpAddr) -> String {
    format!("addr:{}", common::client_addr::bucket(addr))
}

/// An attempt taken from the budgets, to be finished with [`Throttle::succeeded`] or
/// [`Throttle::not_evaluated`]; a failed attempt is simply dropped (its unit stays spent).
#[must_use]
#[derive(Debug)]
pub struct TakenAttempt {
    user: String,
    addr: Option<String>,
}

/// The password-attempt and registration limits, counted in the database (see the
/// module doc); [`crate::accounts::Accounts`] asks it before every hash.
#[derive(Clone)]
pub struct Throttle {
    store: Store,
    settings: ThrottleSettings,
    clock: Clock,
}

impl Throttle {
    /// Budgets from `settings`, kept in `store`, windows on `clock`.
    pub fn new(store: Store, settings: ThrottleSettings, clock: Clock) -> Self {
        Self {
            store,
            settings,
            clock,
        }
    }

    pub(crate) fn throttled(until_micros: i64, now: i64) -> AuthError {
        let wait = Duration::from_micros(u64::try_from(until_micros.saturating_sub(now)).unwrap_or(0));
        // Whole seconds, rounded up, so a client that waits as told is let in.
        AuthError::throttled(Duration::from_secs(
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        ))
    }

    /// Takes one attempt for `username` from `addr`, before its password is checked;
    /// `Throttled` when the name or the address has none left.
    pub async fn begin(&self, username: &str, addr: Option<IpAddr>) -> Result<TakenAttempt, AuthError> {
        let now = self.clock.now_micros();
        let attempt = TakenAttempt {
            user: user_key(username),
            addr: addr.map(addr_key),
        };
        let mut budgets = vec![Budget {
            key: attempt.user.clone(),
            max: i64::from(self.settings.max_failures),
        }];
        budgets.extend(attempt.addr.iter().map(|key| Budget {
            key: key.clone(),
            max: i64::from(self.settings.max_failures_per_address),
        }));
        let taken = self
            .store
            .take_attempt(
                &budgets,
                now,
                now - micros(self.settings.window),
                now - micros(LOCKOUT_MEMORY),
                |lockouts| {
                    let doublings = u32::try_from(lockouts.clamp(0, 20)).unwrap_or(20);
                    let delay = self.settings.lockout.saturating_mul(1 << doublings);
                    micros(delay.min(self.settings.max_lockout))
                },
            )
            .await?;
        match taken {
            Attempt::Taken => Ok(attempt),
            Attempt::Refused { until, newly_locked } => {
                for (key, lockouts) in newly_locked {
                    tracing::warn!(
                        kind = key.split(':').next().unwrap_or(""),
                        lockouts,
                        "login lock-out"
                    );
                }
                Err(Self::throttled(until, now))
            }
        }
    }

    /// The attempt had the right password: the name's failures are forgotten and the
    /// address gets its unit back. `Throttled` instead when the name or the address was
    /// locked while the password was checked (by a burst of attempts around this one).
    pub async fn succeeded(&self, attempt: TakenAttempt) -> Result<(), AuthError> {
        let now = self.clock.now_micros();
        let returned: Vec<String> = attempt.addr.into_iter().collect();
        match self.store.release_attempt(&attempt.user, &returned, now).await? {
            None => Ok(()),
            Some(until) => Err(Self::throttled(until, now)),
        }
    }

    /// The password was never checked (the hash queue was full): the unit goes back.
    pub async fn not_evaluated(&self, attempt: TakenAttempt) -> Result<(), AuthError> {
        let mut keys = vec![attempt.user];
        keys.extend(attempt.addr);
        self.store.return_attempt(&keys).await
    }

    /// Counts a registration attempt from `addr`; refuses it past the limit.
    pub async fn check_registration(&self, addr: Option<IpAddr>) -> Result<(), AuthError> {
        let Some(addr) = addr else { return Ok(()) };
        let now = self.clock.now_micros();
        let window = micros(self.settings.registration_window);
        let (count, window_start) = self
            .store
            .count_event(
                &format!("register:{}", common::client_addr::bucket(addr)),
                now,
                now - window,
            )
            .await?;
        if count > i64::from(self.settings.max_registrations_per_address) {
            return Err(Self::throttled(window_start + window, now));
        }
        Ok(())
    }
}
