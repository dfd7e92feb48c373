//! Every broken or forged token is refused by the interceptor, without echoing it.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::Mac;
use testkit::{Backend, bearer, both_backends};
use todo_grpc_proto::todo::v1 as pb;
use tonic::{Code, Request};

use crate::helpers::spawn_pair;

both_backends!(
    forged_and_broken_tokens_are_refused,
    tokens_from_other_libraries_interoperate
);

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(input: &str, key: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    b64(&mac.finalize().into_bytes())
}

/// A token assembled by hand from any header and claims, HMAC-SHA256-signed with `key`.
fn mint(header: serde_json::Value, claims: &serde_json::Value, key: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = sign(&input, key);
    format!("{input}.{signature}")
}

/// A session id no revocation names (the todo-service refuses only ended sessions).
const SESSION: &str = "0190a5c4-1a2b-4c3d-8e4f-123456789abc";

fn claims(sub: &str, exp_offset: i64, iss: &str, aud: &str) -> serde_json::Value {
    let now = common::time::Clock::system().now_secs();
    serde_json::json!({"sub": sub, "username": "ivan", "iss": iss, "aud": aud,
        "iat": now, "exp": now + exp_offset, "jti": "t", "sid": SESSION})
}

async fn forged_and_broken_tokens_are_refused(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let ivan = app.user("ivan").await;
    let secret = testkit::TEST_SECRET.as_bytes();
    let good = claims(&ivan.id, 600, "todo-grpc-auth", "todo-grpc");
    let hs256 = serde_json::json!({"alg": "HS256", "typ": "JWT"});
    // Sanity: the hand-minted token with the right key is accepted.
    let valid = mint(hs256.clone(), &good, secret);
    app.todo
        .list_todos(bearer(pb::ListTodosRequest::default(), &valid))
        .await
        .unwrap();

    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(good.to_string().as_bytes())
    );
    let mut no_session = good.clone();
    no_session.as_object_mut().unwrap().remove("sid");
    let mut tampered = ivan.token.clone();
    tampered.pop();
    tampered.push(if ivan.token.ends_with('A') { 'B' } else { 'A' });
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            mint(
                hs256.clone(),
                &claims(&ivan.id, -120, "todo-grpc-auth", "todo-grpc"),
                secret,
            ),
        ),
        ("wrong key", mint(hs256.clone(), &good, &[42u8; 32])),
        ("alg none", unsigned),
        (
            "alg none signed",
            mint(serde_json::json!({"alg": "none"}), &good, secret),
        ),
        (
            "HS512 header",
            mint(serde_json::json!({"alg": "HS512"}), &good, secret),
        ),
        (
            "RS256 header",
            mint(serde_json::json!({"alg": "RS256"}), &good, secret),
        ),
        (
            "wrong iss",
            mint(hs256.clone(), &claims(&ivan.id, 600, "evil", "todo-grpc"), secret),
        ),
        (
            "wrong aud",
            mint(
                hs256.clone(),
                &claims(&ivan.id, 600, "todo-grpc-auth", "other"),
                secret,
            ),
        ),
        (
            "unknown kid",
            mint(serde_json::json!({"alg": "HS256", "kid": "nope"}), &good, secret),
        ),
        ("tampered signature", tampered),
        ("no session", mint(hs256.clone(), &no_session, secret)),
        ("garbage", "not-a-jwt".into()),
        ("three dots", "a.b.c".into()),
        ("huge", "a".repeat(8000)),
    ];
    for (what, token) in cases {
        let status = app
            .todo
            .list_todos(bearer(pb::ListTodosRequest::default(), &token))
            .await
            .expect_err(what);
        assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}");
        assert!(status.message().len() < 80, "{what}: long message");
        assert!(
            !status.message().contains(&token[..token.len().min(20)]),
            "{what}: token echoed"
        );
    }

    // Header shapes.
    for (what, value) in [
        ("basic scheme", format!("Basic {}", ivan.token)),
        ("no scheme", ivan.token.clone()),
        ("empty bearer", "Bearer ".into()),
    ] {
        let mut request = Request::new(pb::ListTodosRequest::default());
        request
            .metadata_mut()
            .insert("authorization", value.parse().unwrap());
        let status = app.todo.list_todos(request).await.expect_err(what);
        assert_eq!(status.code(), Code::Unauthenticated, "{what}");
    }
    let status = app
        .todo
        .list_todos(pb::ListTodosRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("missing bearer token"));
    // Scheme case does not matter.
    let mut request = Request::new(pb::ListTodosRequest::default());
    request
        .metadata_mut()
        .insert("authorization", format!("bEaReR {}", ivan.token).parse().unwrap());
    app.todo.list_todos(request).await.unwrap();
}

async fn tokens_from_other_libraries_interoperate(backend: Backend) {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use hmac::Mac;
    let mut app = spawn_pair(backend).await;
    let judy = app.user("judy").await;
    let mine = app.create(&judy, "judy's").await;
    // Built by hand from RFC 7519 (not by the jsonwebtoken crate the services use), as
    // another library writes it: no kid, header fields and claims sorted by name.
    let mut key: hmac::Hmac<sha2::Sha256> =
        hmac::Hmac::new_from_slice(testkit::TEST_SECRET.as_bytes()).unwrap();
    let mut claims = std::collections::BTreeMap::new();
    let now = common::time::Clock::system().now_secs();
    for (k, v) in [
        ("sub", serde_json::json!(judy.id)),
        ("username", serde_json::json!("judy")),
        ("iss", serde_json::json!("todo-grpc-auth")),
        ("aud", serde_json::json!("todo-grpc")),
        ("iat", serde_json::json!(now)),
        ("exp", serde_json::json!(now + 300)),
        ("jti", serde_json::json!("interop")),
        ("sid", serde_json::json!(SESSION)),
    ] {
        claims.insert(k, v);
    }
    let encode = |json: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap());
    let header = encode(serde_json::json!({"typ": "JWT", "alg": "HS256"}));
    let payload = encode(serde_json::to_value(&claims).unwrap());
    key.update(format!("{header}.{payload}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(key.finalize().into_bytes());
    let token = format!("{header}.{payload}.{signature}");
    let (todos, _) = app
        .list_all(
            &crate::helpers::User {
                token,
                id: judy.id.clone(),
            },
            10,
            None,
        )
        .await;
    assert_eq!(todos, vec![mine]);
}
