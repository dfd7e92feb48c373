//! Access tokens: the one place that decides what a valid token is.
//!
//! HS256 JWTs with claims `sub`, `username`, `iss`, `aud`, `iat`, `exp`, `jti`, `sid` (the
//! session, by which a token is revoked) and a `kid` header derived from the secret. Verification pins the algorithm to HS256, requires
//! `exp`, checks `iss` and `aud`, and allows [`LEEWAY_SECS`] of clock skew. Tokens are
//! signed with the current secret only; previous secrets still verify, for key rotation.
//! Expiry is checked against a [`Clock`], so tests can move time instead of waiting.

#![warn(missing_docs)]

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use clock::Clock;

pub mod ids;
pub use ids::{SessionId, UserId};

/// Clock skew tolerated on `exp` (the contract allows at most 30 s).
pub const LEEWAY_SECS: u64 = 10;

/// Shortest secret accepted: RFC 7518 §3.2 asks for a key of at least the hash size.
pub const MIN_SECRET_BYTES: usize = 32;

/// Longest token we try to parse; anything longer is refused before base64 decoding.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// Verified user tokens remembered at once (about 0.5 KiB each). A client sends the same
/// token on every call for its lifetime; remembering it saves the base64, JSON and HMAC
/// work (~3.5 µs, BENCHMARKS.md), which is most of what the interceptor costs.
pub const VERIFIED_CACHE_ENTRIES: usize = 4096;

/// An HS256 key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct JwtSecret(secrecy::SecretBox<[u8]>);

impl JwtSecret {
    /// Accepts a secret of at least [`MIN_SECRET_BYTES`] bytes.
    pub fn new(bytes: Vec<u8>) -> Result<Self, SecretTooShort> {
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(SecretTooShort { len: bytes.len() });
        }
        Ok(Self(secrecy::SecretBox::new(bytes.into_boxed_slice())))
    }

    fn expose(&self) -> &[u8] {
        use secrecy::ExposeSecret;
        self.0.expose_secret()
    }

    /// The key id put in the `kid` header: base64url of the first 9 bytes of SHA-256 of
    /// the secret. It names the key without revealing it, and needs no configuration.
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.expose());
        URL_SAFE_NO_PAD.encode(&digest[..9])
    }

    /// Derives a separate key for another purpose (for example page tokens), so the
    /// signing key itself is used for nothing but JWTs.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"todo-grpc derived key\0");
        hasher.update(purpose.as_bytes());
        hasher.update(b"\0");
        hasher.update(self.expose());
        hasher.finalize().into()
    }
}

impl std::fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtSecret(kid={})", self.key_id())
    }
}

/// A secret below [`MIN_SECRET_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("secret is {len} bytes; at least {MIN_SECRET_BYTES} are required")]
pub struct SecretTooShort {
    /// Length in bytes of the secret that was refused.
    pub len: usize,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id (a [`UserId`] as text); the nil UUID in a service token.
    pub sub: String,
    /// The user's name at issue time; in a service token, the calling service's name.
    pub username: String,
    /// Issuer: must equal [`TokenSettings::issuer`] to verify.
    pub iss: String,
    /// Audience: [`TokenSettings::audience`] for user tokens, that plus `#internal` for
    /// service tokens, so neither passes for the other.
    pub aud: String,
    /// Issued at, seconds since the epoch (the issuer's [`Clock`]).
    pub iat: u64,
    /// Expires at, seconds since the epoch; refused [`LEEWAY_SECS`] after it.
    pub exp: u64,
    /// A random UUID per token, so two tokens issued in the same second differ.
    pub jti: String,
    /// The session the token belongs to. Required in user tokens (revocation is by
    /// session); service tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Who a verified token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// The user's id (the token's `sub`): what every query is scoped to.
    pub user_id: UserId,
    /// The username the token was issued for (claim `username`), as the token says it:
    /// not looked up again.
    pub username: String,
    /// Seconds since the epoch.
    pub issued_at: i64,
    /// Seconds since the epoch.
    pub expires_at: i64,
    /// The session (claim `sid`): ending it refuses this token.
    pub session_id: SessionId,
}

/// A freshly signed access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The signed JWT, as sent in `authorization: Bearer`.
    pub token: String,
    /// How long it is valid from issue ([`TokenSettings::access_ttl`]); the client is
    /// told this as `expires_in`.
    pub expires_in: Duration,
}

/// Why a token was refused. The messages are what callers see: short, and never the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Well-formed and correctly signed, but past `exp` plus [`LEEWAY_SECS`]: the client
    /// should refresh.
    #[error("access token expired")]
    Expired,
    /// Not a JWT at all: empty, longer than [`MAX_TOKEN_BYTES`], or bad base64 or JSON.
    #[error("malformed access token")]
    Malformed,
    /// A JWT we refuse: wrong algorithm, signature, issuer, audience or claims.
    #[error("invalid access token")]
    Invalid,
}

/// How tokens are issued and checked; shared by both services.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The `iss` claim put in and required (`JWT_ISSUER`); both services must agree.
    pub issuer: String,
    /// The `aud` claim of user tokens (`JWT_AUDIENCE`); service tokens add `#internal`.
    pub audience: String,
    /// Lifetime of an access token from issue (`ACCESS_TOKEN_TTL`); the todo-service,
    /// which only verifies, passes zero.
    pub access_ttl: Duration,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: &JwtSecret) -> Self {
        Self {
            kid: secret.key_id(),
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
        }
    }
}

/// Lifetime of a service token (todo-service to auth-service); one is minted per connection.
pub const SERVICE_TOKEN_TTL: Duration = Duration::from_secs(300);

/// Signs with the current secret, verifies with the current and the previous ones.
pub struct AccessTokens {
    current: Key,
    previous: Vec<Key>,
    settings: TokenSettings,
    validation: Validation,
    /// Service tokens carry their own audience, so a user's token can never pass for
    /// one, nor the other way round.
    service_validation: Validation,
    /// User tokens that passed every check of `validation`, by their exact text. Only the
    /// secrets of this value sign what is in it, and they do not change for its life, so
    /// a hit needs only the expiry checked again. Revocation is not decided here: callers
    /// check `issued_at` against it on every call, hit or not.
    verified: quick_cache::sync::Cache<String, AuthUser>,
    clock: Clock,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("kid", &self.current.kid)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish()
    }
}

impl AccessTokens {
    /// Signs with `current`, verifies with it and `previous`, on the system clock.
    pub fn new(current: &JwtSecret, previous: &[JwtSecret], settings: TokenSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        // `exp` is required (below) but checked by `expired` against `self.clock`:
        // jsonwebtoken would read the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let mut service_validation = validation.clone();
        service_validation.set_audience(&[service_audience(&settings.audience)]);
        Self {
            current: Key::new(current),
            previous: previous.iter().map(Key::new).collect(),
            settings,
            validation,
            service_validation,
            verified: quick_cache::sync::Cache::new(VERIFIED_CACHE_ENTRIES),
            clock: Clock::system(),
        }
    }

    /// The same keys and rules, telling time by `clock` (tests pass a manual one).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Signs a token for the user's session, valid for the configured lifetime from now.
    /// `iat` is the clock's time, never ahead of it: revocation is by session, not by time.
    pub fn issue(
        &self,
        user_id: UserId,
        username: &str,
        session_id: SessionId,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let ttl = self.settings.access_ttl;
        let token = self.sign(
            &user_id.to_string(),
            username,
            &self.settings.audience,
            self.clock.now_secs(),
            ttl,
            Some(session_id.to_string()),
        )?;
        Ok(IssuedToken {
            token,
            expires_in: ttl,
        })
    }

    fn sign(
        &self,
        sub: &str,
        username: &str,
        audience: &str,
        iat: i64,
        ttl: Duration,
        sid: Option<String>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let iat = u64::try_from(iat).unwrap_or_default();
        let claims = Claims {
            sub: sub.to_owned(),
            username: username.to_owned(),
            iss: self.settings.issuer.clone(),
            aud: audience.to_owned(),
            iat,
            exp: iat.saturating_add(ttl.as_secs()),
            jti: Uuid::new_v4().to_string(),
            sid,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.current.encoding)
    }

    /// A short-lived token by which one of our services (`name`) calls another's
    /// internal RPCs. Only holders of the shared secret can make one.
    pub fn issue_service_token(&self, name: &str) -> Result<String, jsonwebtoken::errors::Error> {
        let audience = service_audience(&self.settings.audience);
        self.sign(
            &Uuid::nil().to_string(),
            name,
            &audience,
            self.clock.now_secs(),
            SERVICE_TOKEN_TTL,
            None,
        )
    }

    /// Checks a service token; answers the calling service's name.
    pub fn verify_service_token(&self, token: &str) -> Result<String, TokenError> {
        self.check(token, &self.service_validation)
            .map(|claims| claims.username)
    }

    /// Checks signature, algorithm, expiry, issuer and audience. A token that passed
    /// before is taken from the cache with its expiry checked again, exactly as the full
    /// check does it (`exp` plus the leeway).
    pub fn verify(&self, token: &str) -> Result<AuthUser, TokenError> {
        if let Some(user) = self.verified.get(token) {
            if !expired(user.expires_at, self.clock.now_secs()) {
                return Ok(user);
            }
            self.verified.remove(token);
        }
        let user = claims_to_user(self.check(token, &self.validation)?)?;
        self.verified.insert(token.to_owned(), user.clone());
        Ok(user)
    }

    fn check(&self, token: &str, validation: &Validation) -> Result<Claims, TokenError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        // The header is read only to choose a key; the algorithm is pinned by `validation`.
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let keys = std::iter::once(&self.current).chain(&self.previous);
        let candidates: Vec<&Key> = match header.kid.as_deref() {
            // A kid we did not derive names a key we do not have.
            Some(kid) => keys.filter(|k| k.kid == kid).collect(),
            // Tokens from other issuers may omit kid: try each key (a few HMACs at most).
            None => keys.collect(),
        };
        for key in candidates {
            match jsonwebtoken::decode::<Claims>(token, &key.decoding, validation) {
                Ok(data)
                    if expired(
                        i64::try_from(data.claims.exp).unwrap_or(i64::MAX),
                        self.clock.now_secs(),
                    ) =>
                {
                    return Err(TokenError::Expired);
                }
                Ok(data) => return Ok(data.claims),
                // Only a bad signature can mean "signed with another of our keys".
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => continue,
                Err(e) => return Err(map_error(e.kind())),
            }
        }
        Err(TokenError::Invalid)
    }
}

/// Whether a token expiring at `exp` is refused at `now`: jsonwebtoken's rule (`exp`
/// plus the leeway), for tokens checked in full and cached ones alike.
fn expired(exp: i64, now: i64) -> bool {
    exp.saturating_add(LEEWAY_SECS as i64) < now
}

fn service_audience(audience: &str) -> String {
    format!("{audience}#internal")
}

fn map_error(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
            TokenError::Malformed
        }
        _ => TokenError::Invalid,
    }
}

/// A user token's claims as the caller. A token without a session (issued before
/// sessions were in tokens, or a service token) is not a user's token.
fn claims_to_user(claims: Claims) -> Result<AuthUser, TokenError> {
    let user_id = UserId::parse(&claims.sub).ok_or(TokenError::Invalid)?;
    let session_id = claims
        .sid
        .as_deref()
        .and_then(SessionId::parse)
        .ok_or(TokenError::Invalid)?;
    Ok(AuthUser {
        session_id,
        user_id,
        username: claims.username,
        issued_at: i64::try_from(claims.iat).map_err(|_| TokenError::Invalid)?,
        expires_at: i64::try_from(claims.exp).map_err(|_| TokenError::Invalid)?,
    })
}

#[cfg(test)]
mod tests;
