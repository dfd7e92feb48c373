//! Micro benchmarks of the shared token code, each beside its floor: a bare
//! HMAC-SHA256 over the same bytes, in the same run.
//!
//! Run: `cargo bench --workspace --bench token` (the suite, `bench/run.sh`, passes
//! shorter warm-up and measurement times and reads the medians back for its table).
//!
//! - `token/sign`: `AccessTokens::issue` (claims to JSON, base64url, HMAC, base64url).
//! - `token/verify`: `AccessTokens::verify` of a valid token seen for the first time
//!   (cache miss: the full check, and the insert into the cache).
//! - `token/verify_cached`: the same token again (what a client's later calls cost).
//! - `token/verify_bad_signature`: a token whose signature does not match (the
//!   expensive refusal: the whole token is decoded and the HMAC computed).
//! - `token/verify_garbage`: a token that is not three base64url parts (cheap refusal).
//! - `floor/hmac_sha256`: HMAC-SHA256 with the same 32-byte-or-longer key over the
//!   signing input (`header.payload`) of the verified token: the work no HS256
//!   implementation can skip. A fresh MAC per call, as the JWT code does.

use std::{hint::black_box, time::Duration};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use token::{AccessTokens, JwtSecret, SessionId, TokenSettings, UserId};

const SECRET: &[u8] = b"bench-secret-0123456789abcdef-0123456789abcdef";

fn tokens() -> AccessTokens {
    let secret = JwtSecret::new(SECRET.to_vec()).expect("secret is long enough");
    AccessTokens::new(
        &secret,
        &[],
        TokenSettings {
            issuer: "todo-grpc-auth".into(),
            audience: "todo-grpc".into(),
            access_ttl: Duration::from_secs(900),
        },
    )
}

/// The same token with the last signature character changed (still valid base64url).
fn with_bad_signature(token: &str) -> String {
    let mut bad = token.to_owned();
    let last = bad.pop().expect("non-empty token");
    bad.push(if last == 'A' { 'B' } else { 'A' });
    bad
}

fn hmac_sha256(key: &[u8], bytes: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(bytes);
    mac.finalize().into_bytes().into()
}

fn benches(c: &mut Criterion) {
    let tokens = tokens();
    let (user, session) = (UserId::new(), SessionId::new());
    let good = tokens.issue(user, "alice", session).expect("sign").token;
    let bad = with_bad_signature(&good);
    assert!(tokens.verify(&good).is_ok());
    assert!(tokens.verify(&bad).is_err());
    let signing_input = &good[..good.rfind('.').expect("three parts")];

    let mut group = c.benchmark_group("token");
    group.bench_function("sign", |b| {
        b.iter(|| tokens.issue(black_box(user), black_box("alice"), black_box(session)))
    });
    // A fresh AccessTokens (empty cache) per call, made outside the timed part.
    group.bench_function("verify", |b| {
        b.iter_batched(
            self::tokens,
            |fresh| fresh.verify(black_box(&good)).map(|_| fresh),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("verify_cached", |b| b.iter(|| tokens.verify(black_box(&good))));
    group.bench_function("verify_bad_signature", |b| {
        b.iter(|| tokens.verify(black_box(&bad)))
    });
    group.bench_function("verify_garbage", |b| {
        b.iter(|| tokens.verify(black_box("not.a-token.at-all")))
    });
    group.finish();

    let mut group = c.benchmark_group("floor");
    group.bench_function("hmac_sha256", |b| {
        b.iter(|| hmac_sha256(black_box(SECRET), black_box(signing_input.as_bytes())))
    });
    group.finish();
}

criterion_group!(token, benches);
criterion_main!(token);
