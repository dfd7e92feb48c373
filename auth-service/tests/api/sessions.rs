use std::time::Duration;

use testkit::{Backend, bearer, both_backends, register_and_login};
use todo_grpc_proto::auth::v1 as pb;
use tonic::Code;

use common::time::Clock;

use crate::helpers::{assert_status, spawn_app, spawn_app_on};

fn refresh(token: &str) -> pb::RefreshRequest {
    pb::RefreshRequest {
        refresh_token: token.into(),
    }
}

both_backends!(
    refresh_rotates_and_reuse_revokes_the_family,
    logout_ends_only_that_session,
    change_password_ends_every_session,
    logout_all_ends_every_session,
    concurrent_refreshes_let_exactly_one_through,
    expired_refresh_tokens_are_refused,
    expired_and_foreign_access_tokens_are_refused,
);

async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let first = register_and_login(&mut app.client, "heidi", "heidi's password").await;
    let second = app
        .client
        .refresh(refresh(&first.refresh_token))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.token_type, "Bearer");
    // The new access token works.
    app.client
        .get_me(bearer(pb::GetMeRequest {}, &second.access_token))
        .await
        .unwrap();
    // The old refresh token no longer does, and presenting it revokes the family...
    assert_status(
        app.client.refresh(refresh(&first.refresh_token)).await,
        Code::Unauthenticated,
        "refresh token",
    );
    // ...so the newest token of that session is dead too.
    assert_status(
        app.client.refresh(refresh(&second.refresh_token)).await,
        Code::Unauthenticated,
        "refresh token",
    );
    // Garbage and unknown tokens: the same answer; empty: INVALID_ARGUMENT.
    assert_status(
        app.client.refresh(refresh("garbage")).await,
        Code::Unauthenticated,
        "refresh token",
    );
    assert_status(
        app.client.refresh(refresh(&"A".repeat(43))).await,
        Code::Unauthenticated,
        "refresh token",
    );
    assert_status(
        app.client.refresh(refresh("")).await,
        Code::InvalidArgument,
        "refresh_token",
    );
}

async fn logout_ends_only_that_session(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let laptop = register_and_login(&mut app.client, "ivan", "ivan's password").await;
    let phone = app
        .client
        .login(pb::LoginRequest {
            username: "ivan".into(),
            password: "ivan's password".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let rotated = app
        .client
        .refresh(refresh(&laptop.refresh_token))
        .await
        .unwrap()
        .into_inner();
    // Logging out with any token of the family ends the session: here the current one.
    app.client
        .logout(pb::LogoutRequest {
            refresh_token: rotated.refresh_token.clone(),
        })
        .await
        .unwrap();
    assert_status(
        app.client.refresh(refresh(&rotated.refresh_token)).await,
        Code::Unauthenticated,
        "refresh token",
    );
    // The other session is untouched.
    app.client.refresh(refresh(&phone.refresh_token)).await.unwrap();
    // Logout of an unknown token succeeds (nothing to learn from it) and is idempotent.
    app.client
        .logout(pb::LogoutRequest {
            refresh_token: rotated.refresh_token,
        })
        .await
        .unwrap();
}

async fn change_password_ends_every_session(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let a = register_and_login(&mut app.client, "judy", "old password").await;
    let b = app
        .client
        .login(pb::LoginRequest {
            username: "judy".into(),
            password: "old password".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let change = |current: &str, new: &str| pb::ChangePasswordRequest {
        current_password: current.into(),
        new_password: new.into(),
    };
    assert_status(
        app.client
            .change_password(bearer(change("wrong password", "new password"), &a.access_token))
            .await,
        Code::InvalidArgument,
        "current_password",
    );
    assert_status(
        app.client
            .change_password(bearer(change("old password", "short"), &a.access_token))
            .await,
        Code::InvalidArgument,
        "new_password",
    );
    assert_status(
        app.client
            .change_password(change("old password", "new password"))
            .await,
        Code::Unauthenticated,
        "bearer",
    );
    app.client
        .change_password(bearer(change("old password", "new password"), &a.access_token))
        .await
        .unwrap();
    for token in [&a.refresh_token, &b.refresh_token] {
        assert_status(
            app.client.refresh(refresh(token)).await,
            Code::Unauthenticated,
            "refresh token",
        );
    }
    let login = |password: &str| pb::LoginRequest {
        username: "judy".into(),
        password: password.into(),
    };
    assert_status(
        app.client.login(login("old password")).await,
        Code::Unauthenticated,
        "invalid",
    );
    app.client.login(login("new password")).await.unwrap();
}

async fn logout_all_ends_every_session(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let a = register_and_login(&mut app.client, "mallory", "mallory's password").await;
    let other = register_and_login(&mut app.client, "niaj", "niaj's password").await;
    let b = app
        .client
        .login(pb::LoginRequest {
            username: "mallory".into(),
            password: "mallory's password".into(),
        })
        .await
        .unwrap()
        .into_inner();
    app.client
        .logout_all(bearer(pb::LogoutAllRequest {}, &a.access_token))
        .await
        .unwrap();
    for token in [&a.refresh_token, &b.refresh_token] {
        assert_status(
            app.client.refresh(refresh(token)).await,
            Code::Unauthenticated,
            "refresh token",
        );
    }
    // Another user's session is untouched.
    app.client.refresh(refresh(&other.refresh_token)).await.unwrap();
    assert_status(
        app.client.logout_all(pb::LogoutAllRequest {}).await,
        Code::Unauthenticated,
        "bearer",
    );
}

async fn concurrent_refreshes_let_exactly_one_through(backend: Backend) {
    let mut app = spawn_app(backend).await;
    for round in 0..3 {
        let pair = register_and_login(&mut app.client, &format!("olivia{round}"), "olivia's password").await;
        let calls = (0..8).map(|_| {
            let mut client = app.client.clone();
            let token = pair.refresh_token.clone();
            tokio::spawn(async move { client.refresh(refresh(&token)).await })
        });
        let results = futures::future::join_all(calls).await;
        let mut ok = 0;
        for result in results {
            match result.unwrap() {
                Ok(_) => ok += 1,
                Err(status) => assert_eq!(status.code(), Code::Unauthenticated, "{status:?}"),
            }
        }
        assert_eq!(ok, 1, "round {round}: {ok} of 8 concurrent refreshes succeeded");
    }
}

async fn expired_refresh_tokens_are_refused(backend: Backend) {
    let clock = Clock::manual();
    let mut app = spawn_app_on(&clock, backend, |c| {
        c.refresh_token_ttl = Duration::from_secs(3600)
    })
    .await;
    let pair = register_and_login(&mut app.client, "peggy", "peggy's password").await;
    assert_eq!(pair.refresh_expires_in, 3600);
    clock.advance(Duration::from_secs(1800));
    let later = app
        .client
        .login(pb::LoginRequest {
            username: "peggy".into(),
            password: "peggy's password".into(),
        })
        .await
        .unwrap()
        .into_inner();
    // The first token's last second: still taken.
    clock.advance(Duration::from_secs(1799));
    let rotated = app
        .client
        .refresh(refresh(&pair.refresh_token))
        .await
        .expect("valid until its expiry")
        .into_inner();
    // The second login's token has 1 s left; the rotated one a fresh hour.
    clock.advance(Duration::from_secs(1802));
    assert_status(
        app.client.refresh(refresh(&later.refresh_token)).await,
        Code::Unauthenticated,
        "refresh token",
    );
    app.client
        .refresh(refresh(&rotated.refresh_token))
        .await
        .expect("a rotated token lives its own lifetime");
}

async fn expired_and_foreign_access_tokens_are_refused(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let pair = register_and_login(&mut app.client, "rupert", "rupert's password").await;
    let me = app
        .client
        .get_me(bearer(pb::GetMeRequest {}, &pair.access_token))
        .await
        .unwrap()
        .into_inner();
    let now = common::time::Clock::system().now_secs();
    // The session the login opened: a token must name an open one (claim `sid`).
    let sid = testkit::jwt_claims(&pair.access_token)["sid"].clone();
    let claims = |exp: i64, iss: &str| {
        serde_json::json!({"sub": me.id, "username": "rupert", "iss": iss, "aud": "todo-grpc",
            "iat": now - 1000, "exp": exp, "jti": "x", "sid": sid})
    };
    let key = jsonwebtoken::EncodingKey::from_secret(testkit::TEST_SECRET.as_bytes());
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    // Signed with the right key by another library: accepted.
    let good = jsonwebtoken::encode(&header, &claims(now + 60, "todo-grpc-auth"), &key).unwrap();
    app.client
        .get_me(bearer(pb::GetMeRequest {}, &good))
        .await
        .unwrap();
    let expired = jsonwebtoken::encode(&header, &claims(now - 60, "todo-grpc-auth"), &key).unwrap();
    assert_status(
        app.client.get_me(bearer(pb::GetMeRequest {}, &expired)).await,
        Code::Unauthenticated,
        "expired",
    );
    let wrong_iss = jsonwebtoken::encode(&header, &claims(now + 60, "someone-else"), &key).unwrap();
    assert_status(
        app.client.get_me(bearer(pb::GetMeRequest {}, &wrong_iss)).await,
        Code::Unauthenticated,
        "invalid",
    );
    let other_key = jsonwebtoken::EncodingKey::from_secret(&[7u8; 32]);
    let forged = jsonwebtoken::encode(&header, &claims(now + 60, "todo-grpc-auth"), &other_key).unwrap();
    assert_status(
        app.client.get_me(bearer(pb::GetMeRequest {}, &forged)).await,
        Code::Unauthenticated,
        "invalid",
    );
}
