//! Values that can only hold what the rules allow. Parsing is the only way in.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

pub use common::violation::Violation;

/// Shortest username, in characters.
pub const USERNAME_MIN: usize = 3;
/// Longest username, in characters (all ASCII, so also bytes).
pub const USERNAME_MAX: usize = 32;
/// Shortest new password, in characters (NIST SP 800-63B's minimum).
pub const PASSWORD_MIN: usize = 8;
/// Longest password, new or given, in characters: bounds the work handed to argon2.
pub const PASSWORD_MAX: usize = 128;

/// 3 to 32 ASCII letters, digits, `_`, `.` or `-`. ASCII only, so that "the same name
/// without regard to case" has one obvious meaning and look-alike letters cannot be
/// registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Checks length and characters; a refusal names `field` (the request field).
    pub fn parse(field: &'static str, s: &str) -> Result<Self, Violation> {
        let len = s.chars().count();
        if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
            return Err(Violation::new(
                field,
                format!("must be {USERNAME_MIN} to {USERNAME_MAX} characters"),
            ));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(Violation::new(
                field,
                "may contain only letters a-z and A-Z, digits, '_', '.' and '-'",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as the user wrote it, case kept: what is stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key uniqueness is checked on.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// Longest email address accepted (RFC 5321's path limit less the angle brackets).
pub const EMAIL_MAX: usize = 254;

/// An email address, checked for shape only: at most 254 characters, exactly one `@`
/// with something on each side, a dot-separated domain, no spaces or control
/// characters. Whether it exists is what the verification mail finds out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Checks the shape (see the type); a refusal names `field` (the request field).
    pub fn parse(field: &'static str, s: &str) -> Result<Self, Violation> {
        if s.is_empty() {
            return Err(Violation::new(field, "is required"));
        }
        if s.chars().count() > EMAIL_MAX {
            return Err(Violation::new(
                field,
                format!("must be at most {EMAIL_MAX} characters"),
            ));
        }
        let bad = || Violation::new(field, "must be an email address (name@example.com)");
        if s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        {
            return Err(bad());
        }
        let mut parts = s.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        if local.is_empty() || domain.is_empty() || domain.split('.').any(str::is_empty) {
            return Err(bad());
        }
        Ok(Self(s.to_owned()))
    }

    /// The address as the user wrote it, case kept: what mails are sent to.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key uniqueness is checked on: the whole address lower-cased.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A password as the user typed it: 8 to 128 characters, no composition rules
/// (NIST SP 800-63B), never truncated. Its `Debug` does not show it.
pub struct Password(SecretString);

impl Password {
    /// Checks the rules for a new password: length, not whitespace only or one character
    /// repeated (NIST SP 800-63B's "repetitive" passwords), not one of the most common.
    pub fn parse_new(field: &'static str, s: String) -> Result<Self, Violation> {
        let len = s.chars().count();
        if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&len) {
            return Err(Violation::new(
                field,
                format!("must be {PASSWORD_MIN} to {PASSWORD_MAX} characters"),
            ));
        }
        if s.chars().all(char::is_whitespace) {
            return Err(Violation::new(
                field,
                "must not be only spaces or other whitespace",
            ));
        }
        let mut chars = s.chars();
        if let Some(first) = chars.next()
            && chars.all(|c| c == first)
        {
            return Err(Violation::new(field, "must not be one character repeated"));
        }
        if is_common_password(&s) {
            return Err(Violation::new(
                field,
                "is one of the most common passwords; choose another (a few unrelated words work well)",
            ));
        }
        Ok(Self(SecretString::from(s)))
    }

    /// A password offered for checking: only required and bounded, so that no rule
    /// change can lock out an existing user and no huge input reaches the hash.
    pub fn parse_given(field: &'static str, s: String) -> Result<Self, Violation> {
        if s.is_empty() {
            return Err(Violation::new(field, "is required"));
        }
        if s.chars().count() > PASSWORD_MAX {
            return Err(Violation::new(
                field,
                format!("must be at most {PASSWORD_MAX} characters"),
            ));
        }
        Ok(Self(SecretString::from(s)))
    }

    /// The password in clear, for the hasher (and to compare a new one with the current).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The 10,000 most common passwords (see `scripts/update-common-passwords.sh`).
static COMMON_PASSWORDS: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| include_str!("../data/common-passwords.txt").lines().collect());

/// Whether the password, ignoring case, is on the common-passwords list.
pub fn is_common_password(password: &str) -> bool {
    // Nothing on the list is longer than this; skip the lower-casing for long input.
    password.len() <= 64 && COMMON_PASSWORDS.contains(password.to_lowercase().as_str())
}

/// Length of an encoded refresh token: 32 random bytes in unpadded base64url.
const REFRESH_TOKEN_LEN: usize = 43;

/// An opaque refresh token: 256 random bits, base64url. Only its hash is stored.
pub struct RefreshToken(SecretString);

impl RefreshToken {
    /// A fresh random token (also the form of mailed verification and reset tokens).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        // ThreadRng: a CSPRNG seeded and reseeded from the operating system.
        rand::fill(&mut bytes[..]);
        Self(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// A token presented by a caller. `None` when it cannot be one of ours (the caller
    /// gets the same answer as for an unknown token).
    pub fn parse(s: &str) -> Option<Self> {
        let ok = s.len() == REFRESH_TOKEN_LEN && URL_SAFE_NO_PAD.decode(s).is_ok_and(|b| b.len() == 32);
        ok.then(|| Self(SecretString::from(s.to_owned())))
    }

    /// The token in clear, to hand to the client (in the body, a cookie or a mailed link).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// What the database keeps: hex SHA-256. A fast hash is enough for 256 random bits.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.expose().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        let long = format!("{}@example.com", "a".repeat(242));
        assert_eq!(long.len(), 254);
        for ok in ["a@b.c", "Alice+tag@Example.COM", "x@localhost", long.as_str()] {
            assert!(Email::parse("email", ok).is_ok(), "{ok}");
        }
        let too_long = format!("a{long}");
        for bad in [
            "",
            "a",
            "@b.c",
            "a@",
            "a@@b.c",
            "a@b@c",
            "a b@c.d",
            "a@b..c",
            "a@.b",
            "a@b.c\n",
            "<a@b.c>",
            too_long.as_str(),
        ] {
            assert!(Email::parse("email", bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Email::parse("email", "Bob@Example.com").unwrap().key(),
            "bob@example.com"
        );
    }

    #[test]
    fn usernames() {
        for ok in ["bob", "Alice_1", "a.b-c", &"x".repeat(32)] {
            assert!(Username::parse("username", ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "",
            &"x".repeat(33),
            "bob smith",
            "bøb",
            "bob\n",
            "a/b",
            "bob\0",
        ] {
            assert!(Username::parse("username", bad).is_err(), "{bad:?}");
        }
        assert_eq!(Username::parse("username", "BoB").unwrap().key(), "bob");
    }

    #[test]
    fn passwords_count_characters_not_bytes() {
        assert!(Password::parse_new("password", "123456x".into()).is_err());
        assert!(Password::parse_new("password", "1234567x".into()).is_ok());
        assert!(Password::parse_new("password", "éa".repeat(64)).is_ok());
        assert!(Password::parse_new("password", "éa".repeat(64) + "é").is_err());
        assert!(
            !format!("{:?}", Password::parse_new("p", "hunter2hunter2".into()).unwrap()).contains("hunter")
        );
    }

    #[test]
    fn whitespace_and_repeated_passwords_refused() {
        for p in [" ".repeat(8), "\t".repeat(9), " \u{3000}\n \t   ".to_owned()] {
            let err = Password::parse_new("password", p.clone()).unwrap_err();
            assert!(err.reason.contains("whitespace"), "{p:?}: {}", err.reason);
        }
        for p in ["kkkkkkkkkkkk".to_owned(), "é".repeat(20), "7".repeat(128)] {
            let err = Password::parse_new("password", p.clone()).unwrap_err();
            assert!(err.reason.contains("repeated"), "{p:?}: {}", err.reason);
        }
        // Spaces inside, and two characters, are fine; a given password is not judged.
        assert!(Password::parse_new("password", "  kkkkkkk k ".into()).is_ok());
        assert!(Password::parse_new("password", "kkkkkkkkkkkj".into()).is_ok());
        assert!(Password::parse_given("password", " ".repeat(8)).is_ok());
    }

    #[test]
    fn common_passwords_refused() {
        for p in ["password", "PASSWORD1", "baseball", "iloveyou", "qwertyuiop"] {
            let err = Password::parse_new("password", p.into()).unwrap_err();
            assert!(err.reason.contains("most common"), "{p}");
        }
        assert!(Password::parse_new("password", "purple elephant staircase".into()).is_ok());
    }

    #[test]
    fn refresh_tokens() {
        let t = RefreshToken::generate();
        assert_eq!(t.expose().len(), REFRESH_TOKEN_LEN);
        assert!(RefreshToken::parse(t.expose()).is_some());
        assert_eq!(RefreshToken::parse(t.expose()).unwrap().hash(), t.hash());
        assert_eq!(t.hash().len(), 64);
        assert!(RefreshToken::parse("short").is_none());
        assert!(RefreshToken::parse(&"*".repeat(43)).is_none());
        assert_ne!(RefreshToken::generate().hash(), t.hash());
    }
}
