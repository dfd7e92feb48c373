//! The security history's vocabulary: what happened to an account, and from where.
//! No SQL and no gRPC here; `store` writes these, `grpc` converts them.

use token::SessionId;

/// Where a call came from, as the security history and the session list show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address (behind trusted proxies, the forwarded one).
    pub address: Option<String>,
    /// The `user-agent` metadata, at most [`MAX_USER_AGENT`] characters.
    pub user_agent: Option<String>,
}

/// Longest user agent kept (longer ones are cut, never refused: it is only a label).
pub const MAX_USER_AGENT: usize = 256;

impl ClientInfo {
    /// From the request's address and `user-agent`, cut to size, control characters dropped.
    pub fn new(address: Option<std::net::IpAddr>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT)
                    .collect::<String>()
            })
            .filter(|ua| !ua.is_empty());
        Self {
            address: address.map(|a| a.to_string()),
            user_agent,
        }
    }
}

/// What an event records. The names are the contract's (and the stored text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The account was created.
    Registered,
    /// A login with the right password started a session (the event's session).
    LoginSucceeded,
    /// A wrong password for this account.
    LoginFailed,
    /// A password check refused by the throttle (recorded at most once a minute).
    LoginThrottled,
    /// A session ended by `Logout` with its refresh token.
    LoggedOut,
    /// Every session ended by `LogoutAll`.
    LoggedOutAll,
    /// One session ended by its user (`RevokeSession`).
    SessionRevoked,
    /// An already-rotated refresh token was presented again: its session was ended,
    /// since one of its two holders is not the user.
    RefreshReuseDetected,
    /// The password was changed by its user; every session ended.
    PasswordChanged,
    /// A reset link for this account was asked for and queued (none is recorded when a
    /// mail limit refused it).
    PasswordResetRequested,
    /// The password was set with a mailed reset link; every session ended.
    PasswordReset,
    /// The email address was changed; the new one awaits verification.
    EmailChanged,
    /// The address was verified through its mailed link.
    EmailVerified,
}

const KINDS: [(EventKind, &str); 13] = [
    (EventKind::Registered, "REGISTERED"),
    (EventKind::LoginSucceeded, "LOGIN_SUCCEEDED"),
    (EventKind::LoginFailed, "LOGIN_FAILED"),
    (EventKind::LoginThrottled, "LOGIN_THROTTLED"),
    (EventKind::LoggedOut, "LOGGED_OUT"),
    (EventKind::LoggedOutAll, "LOGGED_OUT_ALL"),
    (EventKind::SessionRevoked, "SESSION_REVOKED"),
    (EventKind::RefreshReuseDetected, "REFRESH_REUSE_DETECTED"),
    (EventKind::PasswordChanged, "PASSWORD_CHANGED"),
    (EventKind::PasswordResetRequested, "PASSWORD_RESET_REQUESTED"),
    (EventKind::PasswordReset, "PASSWORD_RESET"),
    (EventKind::EmailChanged, "EMAIL_CHANGED"),
    (EventKind::EmailVerified, "EMAIL_VERIFIED"),
];

impl EventKind {
    /// The contract's name (`LOGIN_FAILED`), as stored in `security_events.kind`.
    pub fn as_str(self) -> &'static str {
        KINDS
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("UNKNOWN", |(_, name)| name)
    }

    /// The kind a stored name means; `None` for a name this version does not know.
    pub fn parse(name: &str) -> Option<Self> {
        KINDS.iter().find(|(_, n)| *n == name).map(|(kind, _)| *kind)
    }
}

/// An event to record beside a change, in its transaction.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// Where the call that caused it came from.
    pub client: &'a ClientInfo,
    /// The session concerned; `None` where a change ends exactly one session: that one.
    pub session_id: Option<SessionId>,
}

impl<'a> Event<'a> {
    /// An event of `kind` from `client`, about `session_id` (see the field).
    pub fn new(kind: EventKind, client: &'a ClientInfo, session_id: Option<SessionId>) -> Self {
        Self {
            kind,
            client,
            session_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for (kind, name) in KINDS {
            assert_eq!(kind.as_str(), name);
            assert_eq!(EventKind::parse(name), Some(kind));
        }
        assert_eq!(EventKind::parse("NOPE"), None);
    }

    #[test]
    fn user_agents_are_cut_and_cleaned() {
        let long = "a".repeat(1000);
        let info = ClientInfo::new(None, Some(&long));
        assert_eq!(info.user_agent.unwrap().len(), MAX_USER_AGENT);
        let info = ClientInfo::new(None, Some("curl\n\u{7}"));
        assert_eq!(info.user_agent.as_deref(), Some("curl"));
        assert_eq!(ClientInfo::new(None, Some("\n")).user_agent, None);
    }
}
