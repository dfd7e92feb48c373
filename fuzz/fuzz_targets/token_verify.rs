//! Token parsing: arbitrary bytes into `AccessTokens::verify`, `verify_service_token`
//! and the `authorization: Bearer` header parser. None of them may panic, and what they
//! accept must be what the token rules allow.
//!
//! Each input is used three ways:
//! 1. as the token itself, when it is UTF-8;
//! 2. as the raw value of an `authorization` header, when it is a valid header value,
//!    and then the extracted token is verified too;
//! 3. when it contains a NUL byte, as `<header JSON> NUL <claims JSON>`, which the target
//!    base64url-encodes and signs with the right key. Random bytes almost never carry a
//!    valid HMAC, so this is what lets the fuzzer reach claim decoding and validation
//!    (algorithm, `exp`, `iss`, `aud`, `sub`, `kid` handling).

#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use token::{AccessTokens, JwtSecret, LEEWAY_SECS, MAX_TOKEN_BYTES, TokenSettings};
use hmac::Mac;
use libfuzzer_sys::fuzz_target;
use tonic::codegen::http::{HeaderMap, HeaderValue};

const SECRET: [u8; 32] = [7; 32];

static TOKENS: LazyLock<AccessTokens> = LazyLock::new(|| {
    let secret = JwtSecret::new(SECRET.to_vec()).expect("32 bytes is long enough");
    AccessTokens::new(
        &secret,
        &[],
        TokenSettings {
            issuer: "iss".into(),
            audience: "aud".into(),
            access_ttl: Duration::from_secs(900),
        },
    )
});

fuzz_target!(|data: &[u8]| {
    let tokens = &*TOKENS;

    if let Ok(token) = std::str::from_utf8(data) {
        check_token(tokens, token);
    }

    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", value);
        match common::bearer::bearer_token(&headers) {
            Ok(token) => {
                // What comes out is a non-empty, trimmed piece of the header value.
                assert!(!token.is_empty());
                assert_eq!(token, token.trim());
                let raw = std::str::from_utf8(data).expect("a header value that to_str accepts is UTF-8");
                assert!(raw.contains(token));
                check_token(tokens, token);
            }
            // Every refusal is one of the fixed messages, which never echo the header.
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }

    if let Some(nul) = data.iter().position(|&b| b == 0) {
        let (header, claims) = (&data[..nul], &data[nul + 1..]);
        let token = sign(header, claims);
        check_token(tokens, &token);
    }
});

/// Verifies the token as a user token and as a service token, and checks what an
/// acceptance implies.
fn check_token(tokens: &AccessTokens, token: &str) {
    let before = common::time::now_secs();
    let user = tokens.verify(token);
    let service = tokens.verify_service_token(token);

    if user.is_ok() || service.is_ok() {
        // A JWS in compact form: exactly three parts, bounded size, HS256 pinned.
        assert_eq!(
            token.matches('.').count(),
            2,
            "accepted a token without three parts"
        );
        assert!(!token.is_empty() && token.len() <= MAX_TOKEN_BYTES);
        let header = jsonwebtoken_header_alg(token);
        assert_eq!(
            header.as_deref(),
            Some("HS256"),
            "accepted a token not signed with HS256"
        );
    }
    // A token's audience is one string: it is a user token or a service token, never both.
    assert!(
        !(user.is_ok() && service.is_ok()),
        "token accepted both as a user token and as a service token"
    );

    if let Ok(user) = user {
        // Both come from unsigned JSON numbers converted without wrapping.
        assert!(user.issued_at >= 0 && user.expires_at >= 0);
        // `exp` is required and checked with the leeway against the clock at verify time.
        assert!(
            user.expires_at.saturating_add(LEEWAY_SECS as i64) >= before,
            "accepted an expired token: exp {} at {before}",
            user.expires_at
        );
    }
}

/// The `alg` of the token's header, read independently of jsonwebtoken.
fn jsonwebtoken_header_alg(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let json = URL_SAFE_NO_PAD.decode(header).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&json).ok()?;
    value.get("alg")?.as_str().map(str::to_owned)
}

/// `b64(header).b64(claims).b64(HMAC-SHA256(secret, signing input))`.
fn sign(header: &[u8], claims: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&SECRET).expect("HMAC takes any key length");
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}
