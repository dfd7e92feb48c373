//! Login and registration throttling, counted in the database so every replica sees the
//! same counts.
//!
//! Failed logins are counted per (lower-cased) username and per client address. After
//! `max_failures` within `window`, that key is locked for a delay that doubles with each
//! lock-out (capped), and every login for it, the right password included, is refused
//! with `RESOURCE_EXHAUSTED` and a `RetryInfo` until the delay passes. Names that do not
//! exist are counted exactly like names that do, so the answers reveal nothing.
//! Registrations are counted per client address.

use std::{net::IpAddr, time::Duration};

use common::time::now_micros;

use crate::{error::AuthError, store::Store};

/// The figures, all configurable.
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    pub max_failures: u32,
    pub max_failures_per_address: u32,
    pub window: Duration,
    /// The first lock-out; each further one doubles it, up to `max_lockout`.
    pub lockout: Duration,
    pub max_lockout: Duration,
    pub max_registrations_per_address: u32,
    pub registration_window: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            max_failures: 5,
            max_failures_per_address: 50,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(60 * 60),
            max_registrations_per_address: 20,
            registration_window: Duration::from_secs(60 * 60),
        }
    }
}

/// After a day without failures a key's lock-out history is forgotten.
const LOCKOUT_MEMORY: Duration = Duration::from_secs(24 * 3600);

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn user_key(username: &str) -> String {
    format!("user:{}", username.to_lowercase())
}

fn addr_key(addr: IpAddr) -> String {
    format!("addr:{addr}")
}

#[derive(Clone)]
pub struct Throttle {
    store: Store,
    settings: ThrottleSettings,
}

impl Throttle {
    pub fn new(store: Store, settings: ThrottleSettings) -> Self {
        Self { store, settings }
    }

    fn throttled(until_micros: i64, now: i64) -> AuthError {
        let wait = Duration::from_micros(u64::try_from(until_micros.saturating_sub(now)).unwrap_or(0));
        // Whole seconds, rounded up, so a client that waits as told is let in.
        AuthError::Throttled {
            retry_after: Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
        }
    }

    /// Refuses the attempt when the username or the address is locked out.
    pub async fn check_login(&self, username: &str, addr: Option<IpAddr>) -> Result<(), AuthError> {
        let now = now_micros();
        let mut keys = vec![user_key(username)];
        keys.extend(addr.map(addr_key));
        if let Some(until) = self.store.locked_until(&keys, now).await? {
            return Err(Self::throttled(until, now));
        }
        Ok(())
    }

    /// Counts a failed login against the username and the address.
    pub async fn record_failure(&self, username: &str, addr: Option<IpAddr>) -> Result<(), AuthError> {
        let now = now_micros();
        let mut keys = vec![(user_key(username), self.settings.max_failures)];
        keys.extend(addr.map(|a| (addr_key(a), self.settings.max_failures_per_address)));
        for (key, max) in keys {
            let lockouts = self
                .store
                .count_failure(
                    &key,
                    now,
                    now - micros(self.settings.window),
                    now - micros(LOCKOUT_MEMORY),
                    i64::from(max.max(1)),
                    |lockouts| {
                        let doublings = u32::try_from(lockouts.clamp(0, 20)).unwrap_or(20);
                        let delay = self.settings.lockout.saturating_mul(1 << doublings);
                        micros(delay.min(self.settings.max_lockout))
                    },
                )
                .await?;
            if let Some(lockouts) = lockouts {
                tracing::warn!(
                    kind = key.split(':').next().unwrap_or(""),
                    lockouts,
                    "login lock-out"
                );
            }
        }
        Ok(())
    }

    /// A successful login clears the username's failures (not the address's).
    pub async fn record_success(&self, username: &str) -> Result<(), AuthError> {
        self.store.clear_throttle(&user_key(username)).await
    }

    /// Counts a registration attempt from `addr`; refuses it past the limit.
    pub async fn check_registration(&self, addr: Option<IpAddr>) -> Result<(), AuthError> {
        let Some(addr) = addr else { return Ok(()) };
        let now = now_micros();
        let window = micros(self.settings.registration_window);
        let (count, window_start) = self
            .store
            .count_event(&format!("register:{addr}"), now, now - window)
            .await?;
        if count > i64::from(self.settings.max_registrations_per_address) {
            return Err(Self::throttled(window_start + window, now));
        }
        Ok(())
    }
}
