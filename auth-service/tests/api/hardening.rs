//! Abuse and bad input: login throttling, registration limits, load shedding, revocation
//! of access tokens, malformed requests.

use std::time::Duration;

use testkit::{
    Backend, bearer, both_backends,
    web::{self, Encoding},
};
use todo_grpc_proto::auth::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

use common::time::Clock;

use crate::helpers::{assert_status, spawn_app_on, spawn_app_with};

fn login(username: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        username: username.into(),
        password: password.into(),
    }
}

fn register(username: &str, password: &str) -> pb::RegisterRequest {
    pb::RegisterRequest {
        username: username.into(),
        password: password.into(),
        ..Default::default()
    }
}

both_backends!(
    failed_logins_lock_the_name_known_or_not,
    failed_logins_lock_the_address,
    registrations_are_limited_per_address,
    logout_all_and_password_change_revoke_access_tokens,
    hash_floods_fail_fast_and_other_calls_go_on,
    malformed_requests_get_clean_errors,
);

/// The retry delay of a throttled call, checking it is RESOURCE_EXHAUSTED with RetryInfo.
fn retry_delay(result: Result<impl std::fmt::Debug, tonic::Status>) -> Duration {
    let status = assert_status(result, Code::ResourceExhausted, "too many attempts");
    let details = status.get_error_details();
    details
        .retry_info()
        .and_then(|r| r.retry_delay)
        .expect("RetryInfo with a delay")
}

async fn failed_logins_lock_the_name_known_or_not(backend: Backend) {
    let clock = Clock::manual();
    let mut app = spawn_app_on(&clock, backend, |c| c.login_lockout = Duration::from_secs(60)).await;
    testkit::register_and_login(&mut app.client, "target", "target's password").await;
    for name in ["target", "ghost"] {
        for _ in 0..5 {
            assert_status(
                app.client.login(login(name, "wrong guess")).await,
                Code::Unauthenticated,
                "invalid username or password",
            );
        }
        // Locked: even the right password is refused, known name or not, alike.
        let delay = retry_delay(app.client.login(login(name, "target's password")).await);
        assert!(delay == Duration::from_secs(60), "{delay:?}");
    }
    // Case does not matter for the count.
    retry_delay(app.client.login(login("TARGET", "target's password")).await);
    // Another name from the same address is not locked out by these.
    testkit::register_and_login(&mut app.client, "bystander", "bystander's password").await;

    // Locked until its last second; then the owner gets in and the count starts again.
    clock.advance(Duration::from_secs(59));
    retry_delay(app.client.login(login("target", "target's password")).await);
    clock.advance(Duration::from_secs(1));
    app.client
        .login(login("target", "target's password"))
        .await
        .unwrap();
    // A second lock-out of a name that keeps failing lasts twice as long.
    for _ in 0..5 {
        let _ = app.client.login(login("ghost", "wrong guess")).await;
    }
    let delay = retry_delay(app.client.login(login("ghost", "x-anything")).await);
    assert_eq!(delay, Duration::from_secs(120));
}

async fn failed_logins_lock_the_address(backend: Backend) {
    let mut app = spawn_app_with(backend, |c| {
        c.login_max_failures_per_address = 6;
        c.login_max_failures = 100;
    })
    .await;
    testkit::register_and_login(&mut app.client, "officemate", "officemate's password").await;
    for i in 0..6 {
        let _ = app.client.login(login(&format!("typo{i}"), "wrong guess")).await;
    }
    // Every login from this address now waits, whatever the name.
    retry_delay(
        app.client
            .login(login("officemate", "officemate's password"))
            .await,
    );
}

async fn registrations_are_limited_per_address(backend: Backend) {
    let mut app = spawn_app_with(backend, |c| c.register_max_per_address = 3).await;
    for i in 0..3 {
        app.client
            .register(register(&format!("user{i}"), "a fine password"))
            .await
            .unwrap();
    }
    retry_delay(app.client.register(register("user3", "a fine password")).await);
}

async fn logout_all_and_password_change_revoke_access_tokens(backend: Backend) {
    let mut app = spawn_app_with(backend, |_| {}).await;
    let first = testkit::register_and_login(&mut app.client, "quinn", "quinn's password").await;
    app.client
        .logout_all(bearer(pb::LogoutAllRequest {}, &first.access_token))
        .await
        .unwrap();
    assert_status(
        app.client
            .get_me(bearer(pb::GetMeRequest {}, &first.access_token))
            .await,
        Code::Unauthenticated,
        "revoked",
    );
    let verify = |token: &str| pb::VerifyTokenRequest {
        access_token: token.into(),
    };
    assert_status(
        app.client.verify_token(verify(&first.access_token)).await,
        Code::Unauthenticated,
        "revoked",
    );
    // A login in the same second as the revocation is not caught by it.
    let second = app
        .client
        .login(login("quinn", "quinn's password"))
        .await
        .unwrap()
        .into_inner();
    app.client
        .get_me(bearer(pb::GetMeRequest {}, &second.access_token))
        .await
        .unwrap();
    app.client
        .verify_token(verify(&second.access_token))
        .await
        .unwrap();

    app.client
        .change_password(bearer(
            pb::ChangePasswordRequest {
                current_password: "quinn's password".into(),
                new_password: "quinn's new password".into(),
            },
            &second.access_token,
        ))
        .await
        .unwrap();
    assert_status(
        app.client
            .get_me(bearer(pb::GetMeRequest {}, &second.access_token))
            .await,
        Code::Unauthenticated,
        "revoked",
    );
    let third = app
        .client
        .login(login("quinn", "quinn's new password"))
        .await
        .unwrap()
        .into_inner();
    app.client
        .get_me(bearer(pb::GetMeRequest {}, &third.access_token))
        .await
        .unwrap();
}

async fn hash_floods_fail_fast_and_other_calls_go_on(backend: Backend) {
    let mut app = spawn_app_with(backend, |c| {
        c.max_concurrent_hashes = Some(1);
        c.max_hash_queue = 2;
        c.login_max_failures = 1000;
        c.login_max_failures_per_address = 1000;
    })
    .await;
    let pair = testkit::register_and_login(&mut app.client, "rita", "rita's password").await;
    let flood = (0..24).map(|_| {
        let mut client = app.client.clone();
        tokio::spawn(async move { client.login(login("rita", "wrong guess")).await })
    });
    let flood = tokio::spawn(futures::future::join_all(flood));
    // Token checks need no hash: they go on during the flood.
    for _ in 0..10 {
        app.client
            .verify_token(pb::VerifyTokenRequest {
                access_token: pair.access_token.clone(),
            })
            .await
            .unwrap();
    }
    let mut shed = 0;
    for result in flood.await.unwrap() {
        match result.unwrap() {
            Err(s) if s.code() == Code::ResourceExhausted => shed += 1,
            Err(s) => assert_eq!(s.code(), Code::Unauthenticated, "{s:?}"),
            Ok(_) => panic!("wrong password accepted"),
        }
    }
    assert!(
        shed > 0,
        "a queue of 2 behind 1 hash slot must refuse some of 24 logins"
    );
}

async fn malformed_requests_get_clean_errors(backend: Backend) {
    let mut app = spawn_app_with(backend, |_| {}).await;
    let addr = app.server.addr;
    // A string field with invalid UTF-8 (field 1, length 2, bytes ff fe).
    let r = web::call_bytes(
        addr,
        "/auth.v1.AuthService/Login",
        vec![0x0a, 0x02, 0xff, 0xfe],
        Encoding::Binary,
        &[],
    )
    .await;
    assert_eq!(r.grpc_status.as_deref(), Some("3"), "{r:?}");
    // Not protobuf at all.
    let r = web::call_bytes(
        addr,
        "/auth.v1.AuthService/Login",
        vec![0xff; 12],
        Encoding::Binary,
        &[],
    )
    .await;
    assert_eq!(r.grpc_status.as_deref(), Some("3"), "{r:?}");
    // Control characters in a username.
    assert_status(
        app.client
            .register(register("bob\u{1b}[31m", "a fine password"))
            .await,
        Code::InvalidArgument,
        "username",
    );
    // A bearer header with garbage, and a 1 MB token: refused, never a panic.
    let mut request = tonic::Request::new(pb::GetMeRequest {});
    request.metadata_mut().insert(
        "authorization",
        "Bearer \u{7f}garbage"
            .parse()
            .unwrap_or_else(|_| "Bearer g@r$b&ge".parse().unwrap()),
    );
    assert_eq!(
        app.client.get_me(request).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let huge = format!("Bearer {}", "a".repeat(1 << 20));
    let mut request = tonic::Request::new(pb::GetMeRequest {});
    request
        .metadata_mut()
        .insert("authorization", huge.parse().unwrap());
    let status = app.client.get_me(request).await.unwrap_err();
    assert!(
        matches!(
            status.code(),
            Code::Unauthenticated
                | Code::Internal
                | Code::Unavailable
                | Code::ResourceExhausted
                | Code::Unknown
        ),
        "{status:?}"
    );
    assert!(status.message().len() < 200);
    // The server is still fine afterwards.
    let mut client = testkit::auth_client(addr).await;
    client
        .register(register("still_fine", "a fine password"))
        .await
        .unwrap();
}
