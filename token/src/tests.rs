//! Unit tests of the token rules: forged, expired, rotated, foreign and cached tokens.
use super::*;
use hmac::Mac;

fn secret(fill: u8) -> JwtSecret {
    JwtSecret::new(vec![fill; 32]).unwrap()
}

fn settings() -> TokenSettings {
    TokenSettings {
        issuer: "iss".into(),
        audience: "aud".into(),
        access_ttl: Duration::from_secs(900),
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Mints a token by hand, so tests can make ones our encoder never would.
fn forge(header: serde_json::Value, claims: serde_json::Value, key: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

fn good_claims(exp_offset: i64) -> serde_json::Value {
    let now = Clock::system().now_secs();
    serde_json::json!({
        "sub": Uuid::new_v4().to_string(), "username": "alice", "iss": "iss", "aud": "aud",
        "iat": now, "exp": now + exp_offset, "jti": "j", "sid": Uuid::new_v4().to_string()
    })
}

#[test]
fn round_trip_and_kid() {
    let tokens = AccessTokens::new(&secret(1), &[], settings());
    let (id, sid) = (UserId::new(), SessionId::new());
    let issued = tokens.issue(id, "alice", sid).unwrap();
    let header = jsonwebtoken::decode_header(&issued.token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(secret(1).key_id().as_str()));
    let user = tokens.verify(&issued.token).unwrap();
    assert_eq!(user.user_id, id);
    assert_eq!(user.username, "alice");
    assert_eq!(user.expires_at - user.issued_at, 900);
    assert_eq!(user.session_id, sid);
    // Never ahead of the clock.
    assert!(user.issued_at <= Clock::system().now_secs());
}

#[test]
fn service_and_user_tokens_do_not_mix() {
    let tokens = AccessTokens::new(&secret(1), &[], settings());
    let service = tokens.issue_service_token("todo-service").unwrap();
    assert_eq!(tokens.verify_service_token(&service).unwrap(), "todo-service");
    assert_eq!(tokens.verify(&service), Err(TokenError::Invalid));
    let user = tokens
        .issue(UserId::new(), "alice", SessionId::new())
        .unwrap()
        .token;
    assert_eq!(tokens.verify_service_token(&user), Err(TokenError::Invalid));
    let other = AccessTokens::new(&secret(2), &[], settings());
    assert!(other.verify_service_token(&service).is_err());
}

#[test]
fn a_user_token_needs_a_session() {
    let tokens = AccessTokens::new(&secret(1), &[], settings());
    let header = serde_json::json!({"alg": "HS256"});
    for sid in [None, Some("not-a-uuid")] {
        let mut claims = good_claims(60);
        match sid {
            None => {
                claims.as_object_mut().unwrap().remove("sid");
            }
            Some(v) => claims["sid"] = serde_json::json!(v),
        }
        let t = forge(header.clone(), claims, &[1; 32]);
        assert_eq!(tokens.verify(&t), Err(TokenError::Invalid), "sid {sid:?}");
    }
}

#[test]
fn short_secret_refused() {
    assert!(JwtSecret::new(vec![0; 31]).is_err());
    assert!(!format!("{:?}", secret(7)).contains("7, 7"));
}

#[test]
fn expired_token_refused() {
    let tokens = AccessTokens::new(&secret(1), &[], settings());
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT"});
    let t = forge(header, good_claims(-(LEEWAY_SECS as i64) - 5), &[1; 32]);
    assert_eq!(tokens.verify(&t), Err(TokenError::Expired));
}

#[test]
fn wrong_key_refused_previous_key_accepted() {
    let old = AccessTokens::new(&secret(2), &[], settings());
    let token = old.issue(UserId::new(), "bob", SessionId::new()).unwrap().token;
    let fresh = AccessTokens::new(&secret(1), &[], settings());
    assert_eq!(fresh.verify(&token), Err(TokenError::Invalid));
    let rotating = AccessTokens::new(&secret(1), &[secret(2)], settings());
    assert!(rotating.verify(&token).is_ok());
    // Without a kid every known key is tried.
    let t = forge(serde_json::json!({"alg": "HS256"}), good_claims(60), &[2; 32]);
    assert!(rotating.verify(&t).is_ok());
    assert_eq!(fresh.verify(&t), Err(TokenError::Invalid));
}

#[test]
fn other_algorithms_and_none_refused() {
    let tokens = AccessTokens::new(&secret(1), &[], settings());
    for alg in ["none", "HS384", "HS512", "RS256", "ES256"] {
        let t = forge(serde_json::json!({"alg": alg}), good_claims(60), &[1; 32]);
        assert!(tokens.verify(&t).is_err(), "{alg} accepted");
    }
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(good_claims(60).to_string().as_bytes())
    );
    assert!(tokens.verify(&unsigned).is_err());
}

#[test]
fn wrong_issuer_audience_or_missing_claims_refused() {
    let tokens = AccessTokens::new(&secret(1), &[], settings());
    let header = serde_json::json!({"alg": "HS256"});
    for (field, value) in [("iss", "other"), ("aud", "other"), ("sub", "not-a-uuid")] {
        let mut claims = good_claims(60);
        claims[field] = serde_json::json!(value);
        let t = forge(header.clone(), claims, &[1; 32]);
        assert_eq!(tokens.verify(&t), Err(TokenError::Invalid), "{field}");
    }
    for field in ["exp", "iss", "aud", "sub"] {
        let mut claims = good_claims(60);
        claims.as_object_mut().unwrap().remove(field);
        let t = forge(header.clone(), claims, &[1; 32]);
        assert!(tokens.verify(&t).is_err(), "missing {field} accepted");
    }
}

#[test]
fn garbage_refused() {
    let tokens = AccessTokens::new(&secret(1), &[], settings());
    for t in ["", "a", "a.b.c", "....", &"x".repeat(1 << 20)] {
        assert!(tokens.verify(t).is_err());
    }
}

#[test]
fn a_cached_token_still_expires() {
    let clock = Clock::manual();
    let tokens = AccessTokens::new(&secret(1), &[], settings()).with_clock(clock.clone());
    let header = serde_json::json!({"alg": "HS256"});
    // Valid now for one more second of the leeway, then expired.
    let t = forge(header, good_claims(1 - LEEWAY_SECS as i64), &[1; 32]);
    assert!(tokens.verify(&t).is_ok());
    assert!(
        tokens.verified.get(t.as_str()).is_some(),
        "a verified token is cached"
    );
    clock.advance(Duration::from_secs(2));
    assert_eq!(tokens.verify(&t), Err(TokenError::Expired));
    assert!(tokens.verified.get(t.as_str()).is_none());
}

#[test]
fn an_issued_token_expires_at_its_lifetime_plus_the_leeway_on_the_clock() {
    let clock = Clock::manual();
    let tokens = AccessTokens::new(&secret(1), &[], settings()).with_clock(clock.clone());
    let issued = tokens.issue(UserId::new(), "alice", SessionId::new()).unwrap();
    // A second copy of the keys never saw the token: it checks it in full.
    let fresh = AccessTokens::new(&secret(1), &[], settings()).with_clock(clock.clone());
    clock.advance(issued.expires_in + Duration::from_secs(LEEWAY_SECS));
    assert!(
        tokens.verify(&issued.token).is_ok(),
        "at exp + leeway, still valid"
    );
    assert!(fresh.verify(&issued.token).is_ok());
    clock.advance(Duration::from_secs(1));
    assert_eq!(tokens.verify(&issued.token), Err(TokenError::Expired), "cached");
    assert_eq!(fresh.verify(&issued.token), Err(TokenError::Expired), "in full");
}

#[test]
fn the_cache_vouches_only_for_the_exact_token() {
    let tokens = AccessTokens::new(&secret(1), &[], settings());
    let token = tokens
        .issue(UserId::new(), "alice", SessionId::new())
        .unwrap()
        .token;
    let first = tokens.verify(&token).unwrap();
    assert_eq!(tokens.verify(&token).unwrap(), first);
    // The same claims with another signature, and the same token with one more byte.
    let mut tampered = token.clone();
    let last = if tampered.ends_with('A') { 'B' } else { 'A' };
    tampered.pop();
    tampered.push(last);
    assert_eq!(tokens.verify(&tampered), Err(TokenError::Invalid));
    assert!(tokens.verify(&format!("{token}x")).is_err());
    // A failed check caches nothing.
    assert!(tokens.verified.get(tampered.as_str()).is_none());
}

#[test]
fn expiry_rule_matches_jsonwebtoken() {
    let leeway = LEEWAY_SECS as i64;
    assert!(!expired(100, 100 + leeway));
    assert!(expired(100, 101 + leeway));
    let tokens = AccessTokens::new(&secret(1), &[], settings());
    let header = serde_json::json!({"alg": "HS256"});
    for offset in [-leeway - 3, -leeway + 3] {
        let t = forge(header.clone(), good_claims(offset), &[1; 32]);
        let full = tokens.check(&t, &tokens.validation).is_ok();
        assert_eq!(
            full,
            !expired(Clock::system().now_secs() + offset, Clock::system().now_secs())
        );
    }
}
