//! The wall clock every timed rule reads: token expiry, throttling windows, session and
//! link lifetimes, revocation times. Services take a [`Clock`] from their configuration;
//! tests pass a manual one and move it forward, so a rule about time is tested without
//! waiting for time to pass (and cannot flake on a slow machine).
//!
//! Only wall-clock instants go through here. Durations the process measures for itself
//! (timeouts, back-off, how long ago the revocation feed spoke) use `Instant`.

#![warn(missing_docs)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// The system clock, or a manual one shared by every clone.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that starts at the system's time now and moves only by [`Clock::advance`].
    pub fn manual() -> Self {
        Self(Some(Arc::new(AtomicI64::new(system_micros()))))
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(now) = &self.0 {
            now.fetch_add(micros(by), Ordering::SeqCst);
        }
    }

    /// Microseconds since the Unix epoch.
    pub fn now_micros(&self) -> i64 {
        match &self.0 {
            None => system_micros(),
            Some(now) => now.load(Ordering::SeqCst),
        }
    }

    /// Seconds since the Unix epoch.
    pub fn now_secs(&self) -> i64 {
        self.now_micros().div_euclid(1_000_000)
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Clock::manual"
        } else {
            "Clock::system"
        })
    }
}

/// A duration in microseconds, saturating (stored instants are `i64` microseconds).
pub fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn system_micros() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    micros(since)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_for_every_clone() {
        let clock = Clock::manual();
        let other = clock.clone();
        let start = clock.now_micros();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now_micros(), start);
        other.advance(Duration::from_secs(61));
        assert_eq!(clock.now_micros(), start + 61_000_000);
        assert_eq!(clock.now_secs(), (start + 61_000_000).div_euclid(1_000_000));
    }

    #[test]
    fn the_system_clock_is_the_system_time() {
        let clock = Clock::system();
        clock.advance(Duration::from_secs(3600));
        assert!((clock.now_micros() - system_micros()).abs() < 1_000_000);
    }
}
