//! What is kept, and for how long: the pruner deletes stale throttle rows, expired and
//! revoked refresh tokens and ended sessions, and keeps what a rule still needs; a
//! session ends at SESSION_MAX_LIFETIME however often it is refreshed.

use std::time::Duration;

use common::time::Clock;
use sqlx::{AnyPool, Row};
use testkit::{Backend, bearer, both_backends, register_and_login};
use todo_grpc_proto::auth::v1 as pb;
use tonic::Code;

use crate::helpers::{assert_status, spawn_app_on, spawn_app_with};

both_backends!(
    pruning_removes_stale_rows_and_keeps_live_ones,
    sessions_end_at_their_maximum_lifetime,
);

fn refresh(token: &str) -> pb::RefreshRequest {
    pb::RefreshRequest {
        refresh_token: token.into(),
    }
}

async fn pool(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(url).await.expect("open the test database")
}

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

async fn throttle_row(pool: &AnyPool, key: &str, window_start: i64, locked_until: i64, lockouts: i64) {
    sqlx::query(
        "INSERT INTO login_throttle (throttle_key, failures, window_start, locked_until, lockouts, update_time) \
         VALUES ($1, 3, $2, $3, $4, $2)",
    )
    .bind(key)
    .bind(window_start)
    .bind(locked_until)
    .bind(lockouts)
    .execute(pool)
    .await
    .unwrap();
}

async fn session(pool: &AnyPool, id: &str, user_id: &str, create_time: i64, revoke_time: Option<i64>) {
    sqlx::query("INSERT INTO sessions (id, user_id, create_time, revoke_time) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(user_id)
        .bind(create_time)
        .bind(revoke_time)
        .execute(pool)
        .await
        .unwrap();
}

async fn token(pool: &AnyPool, hash: &str, session_id: &str, expire_time: i64, used: bool) {
    let create_time = expire_time - 30 * DAY;
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, create_time, expire_time, use_time) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash)
    .bind(session_id)
    .bind(create_time)
    .bind(expire_time)
    .bind(used.then_some(create_time))
    .execute(pool)
    .await
    .unwrap();
}

async fn keys(pool: &AnyPool, sql: &'static str) -> Vec<String> {
    let mut keys: Vec<String> = sqlx::query(sql)
        .fetch_all(pool)
        .await
        .expect(sql)
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect();
    keys.sort();
    keys
}

async fn pruning_removes_stale_rows_and_keeps_live_ones(backend: Backend) {
    let mut app = spawn_app_with(backend, |_| {}).await;
    let db = pool(&app._db.url).await;
    // Live rows, made through the API: a rotated session (its used token is needed for
    // reuse detection), a session logged out just now, a failed login's counters.
    let first = register_and_login(&mut app.client, "keeper", "keeper's password").await;
    let rotated = app
        .client
        .refresh(refresh(&first.refresh_token))
        .await
        .unwrap()
        .into_inner();
    let other = app
        .client
        .login(pb::LoginRequest {
            username: "keeper".into(),
            password: "keeper's password".into(),
        })
        .await
        .unwrap()
        .into_inner();
    app.client
        .logout(pb::LogoutRequest {
            refresh_token: other.refresh_token.clone(),
        })
        .await
        .unwrap();
    let _ = app
        .client
        .login(pb::LoginRequest {
            username: "ghost".into(),
            password: "wrong guess".into(),
        })
        .await;
    let me = app
        .client
        .get_me(bearer(pb::GetMeRequest {}, &rotated.access_token))
        .await
        .unwrap()
        .into_inner();
    let live_sessions = keys(&db, "SELECT id FROM sessions").await;
    let live_tokens = keys(&db, "SELECT token_hash FROM refresh_tokens").await;
    assert_eq!((live_sessions.len(), live_tokens.len()), (2, 3));

    // Rows from long ago, written directly.
    let now = Clock::system().now_micros();
    throttle_row(&db, "user:stale", now - 2 * HOUR, 0, 0).await;
    for i in 0..5 {
        throttle_row(&db, &format!("user:bulk{i}"), now - 2 * HOUR, 0, 0).await;
    }
    throttle_row(&db, "user:forgotten", now - 25 * HOUR, 0, 3).await;
    throttle_row(&db, "user:remembered", now - 2 * HOUR, 0, 2).await;
    throttle_row(&db, "user:locked", now - 2 * HOUR, now + HOUR, 1).await;
    let user = me.id.as_str();
    session(&db, "revoked-long-ago", user, now - 40 * DAY, Some(now - DAY)).await;
    token(&db, "t-revoked-used", "revoked-long-ago", now + 10 * DAY, true).await;
    token(
        &db,
        "t-revoked-current",
        "revoked-long-ago",
        now + 20 * DAY,
        false,
    )
    .await;
    session(&db, "expired", user, now - 40 * DAY, None).await;
    token(&db, "t-expired-used", "expired", now - DAY, true).await;
    token(&db, "t-expired-current", "expired", now - HOUR, false).await;
    session(&db, "old-but-live", user, now - 40 * DAY, None).await;
    token(&db, "t-old-used", "old-but-live", now - DAY, true).await;
    token(&db, "t-old-current", "old-but-live", now + DAY, false).await;

    // The logout above is in the revocation log; one from long ago is not needed.
    sqlx::query("INSERT INTO revocation_log (seq, user_id, session_id, revoke_time) VALUES (-1, $1, 'revoked-long-ago', $2)")
        .bind(user)
        .bind(now - DAY)
        .execute(&db)
        .await
        .unwrap();
    let live_revocations = keys(&db, "SELECT session_id FROM revocation_log WHERE seq > 0").await;
    assert_eq!(live_revocations.len(), 1);

    // Security events past their retention go; the login's events from just now stay.
    let live_events = keys(&db, "SELECT id FROM security_events").await;
    assert!(!live_events.is_empty());
    sqlx::query(
        "INSERT INTO security_events (id, user_id, kind, event_time) VALUES ('old-event', $1, 'LOGIN_FAILED', $2)",
    )
    .bind(user)
    .bind(now - 91 * DAY)
    .execute(&db)
    .await
    .unwrap();

    // Mail tokens go once expired; sent (or given-up) mails a day after, pending ones stay.
    for (hash, expire) in [("mail-expired", now - HOUR), ("mail-live", now + DAY)] {
        sqlx::query(
            "INSERT INTO mail_tokens (token_hash, user_id, purpose, email_key, create_time, expire_time) \
             VALUES ($1, $2, 'reset', 'x@example.com', $3, $4)",
        )
        .bind(hash)
        .bind(user)
        .bind(now - 2 * HOUR)
        .bind(expire)
        .execute(&db)
        .await
        .unwrap();
    }
    for (id, sent) in [
        ("sent-old", Some(now - 2 * DAY)),
        ("sent-new", Some(now - HOUR)),
        ("pending", None),
    ] {
        sqlx::query(
            "INSERT INTO mail_outbox (id, kind, recipient, subject, body, create_time, next_attempt_time, sent_time) \
             VALUES ($1, 'verify_email', 'x@example.com', 's', '', $2, $3, $4)",
        )
        .bind(id)
        .bind(now - 2 * DAY)
        // Not due: no sender runs here, but none should touch it either.
        .bind(now + DAY)
        .bind(sent)
        .execute(&db)
        .await
        .unwrap();
    }

    let mut settings = testkit::auth_config(&app._db.url).prune();
    settings.batch = 2;
    let deleted = auth_service::prune::prune_once(&db, &settings, Clock::system().now_micros())
        .await
        .unwrap();
    assert_eq!(
        deleted,
        [
            ("login_throttle", 7),
            ("refresh_tokens", 5),
            ("sessions", 2),
            ("mail_tokens", 1),
            ("mail_outbox", 1),
            ("security_events", 1),
            ("revocation_log", 1)
        ],
        "rows deleted per step"
    );

    assert_eq!(
        keys(&db, "SELECT token_hash FROM mail_tokens").await,
        ["mail-live"]
    );
    assert_eq!(
        keys(&db, "SELECT id FROM mail_outbox").await,
        ["pending", "sent-new"]
    );
    let throttle = keys(&db, "SELECT throttle_key FROM login_throttle").await;
    assert_eq!(
        throttle,
        [
            "addr:127.0.0.1/32",
            "register:127.0.0.1/32",
            "user:ghost",
            "user:locked",
            "user:remembered"
        ],
        "throttle rows kept"
    );
    let mut sessions_kept = live_sessions.clone();
    sessions_kept.push("old-but-live".into());
    sessions_kept.sort();
    assert_eq!(keys(&db, "SELECT id FROM sessions").await, sessions_kept);
    let mut tokens_kept = live_tokens.clone();
    tokens_kept.push("t-old-current".into());
    tokens_kept.sort();
    assert_eq!(
        keys(&db, "SELECT token_hash FROM refresh_tokens").await,
        tokens_kept
    );

    assert_eq!(keys(&db, "SELECT id FROM security_events").await, live_events);
    assert_eq!(
        keys(&db, "SELECT session_id FROM revocation_log").await,
        live_revocations,
        "a recent revocation is kept"
    );

    // Nothing more to do the second time.
    let again = auth_service::prune::prune_once(&db, &settings, Clock::system().now_micros())
        .await
        .unwrap();
    assert!(again.iter().all(|(_, n)| *n == 0), "{again:?}");
    // Reuse detection still works: the rotated-away token revokes its family.
    assert_status(
        app.client.refresh(refresh(&first.refresh_token)).await,
        Code::Unauthenticated,
        "refresh token",
    );
    assert_status(
        app.client.refresh(refresh(&rotated.refresh_token)).await,
        Code::Unauthenticated,
        "refresh token",
    );
}

async fn sessions_end_at_their_maximum_lifetime(backend: Backend) {
    let clock = Clock::manual();
    let lifetime = Duration::from_secs(3 * 3600);
    let mut app = spawn_app_on(&clock, backend, |c| c.session_max_lifetime = lifetime).await;
    let pair = register_and_login(&mut app.client, "mortal", "mortal's password").await;
    assert_eq!(
        pair.refresh_expires_in,
        3 * 3600,
        "the session's end, not REFRESH_TOKEN_TTL"
    );
    clock.advance(Duration::from_secs(2 * 3600));
    let rotated = app
        .client
        .refresh(refresh(&pair.refresh_token))
        .await
        .unwrap()
        .into_inner();
    // What is left of the session, not a renewed 30 days.
    assert_eq!(rotated.refresh_expires_in, 3600);
    // No stored token outlives the session.
    let db = pool(&app._db.url).await;
    let row = sqlx::query(
        "SELECT MAX(t.expire_time) AS last_expiry, MIN(s.create_time) AS created \
         FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let (last, created): (i64, i64) = (row.get("last_expiry"), row.get("created"));
    assert!(
        last <= created + 3 * 3600 * 1_000_000,
        "a token expires {} µs after the session",
        last - created
    );

    clock.advance(Duration::from_secs(3601));
    assert_status(
        app.client.refresh(refresh(&rotated.refresh_token)).await,
        Code::Unauthenticated,
        "refresh token",
    );
}
