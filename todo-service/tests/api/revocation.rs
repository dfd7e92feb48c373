//! Revocation reaches the todo-service within seconds, with no call per request; key
//! rotation keeps old tokens valid while their key is listed as previous.

use std::time::{Duration, Instant};

use testkit::{Backend, TestDb, bearer, both_backends};
use todo_grpc_proto::{auth::v1 as authpb, todo::v1 as pb};
use tonic::Code;

use crate::helpers::{spawn_pair, spawn_todo, todo_config};

both_backends!(
    revocation_reaches_the_todo_service,
    keys_rotate_without_mass_logout,
    one_users_churn_does_not_hide_anothers_revocation,
    logout_ends_that_sessions_access_tokens_only,
    password_reset_reaches_the_todo_service,
);

/// Polls until the token is refused, answering how long it took (panics after 5 s).
async fn refused_within_5s(app: &mut crate::helpers::TestPair, token: &str) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        match app
            .todo
            .list_todos(bearer(pb::ListTodosRequest::default(), token))
            .await
        {
            Err(s) if s.code() == Code::Unauthenticated => {
                assert!(s.message().contains("revoked"), "{s:?}");
                return start.elapsed();
            }
            Err(s) => panic!("unexpected {s:?}"),
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("token still accepted 5 s after revocation");
}

async fn revocation_reaches_the_todo_service(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let sam = app.user("sam").await;
    let other = app.user("tess").await;
    app.create(&sam, "before").await;
    app.auth
        .logout_all(bearer(authpb::LogoutAllRequest {}, &sam.token))
        .await
        .unwrap();
    let took = refused_within_5s(&mut app, &sam.token).await;
    eprintln!("LogoutAll reached the todo-service in {took:?}");
    // Other users are untouched, and a new login works at once.
    app.create(&other, "unaffected").await;
    let fresh = app
        .auth
        .login(authpb::LoginRequest {
            username: "sam".into(),
            password: "a good long password".into(),
        })
        .await
        .unwrap()
        .into_inner();
    app.todo
        .list_todos(bearer(pb::ListTodosRequest::default(), &fresh.access_token))
        .await
        .unwrap();
    app.auth
        .change_password(bearer(
            authpb::ChangePasswordRequest {
                current_password: "a good long password".into(),
                new_password: "another long password".into(),
            },
            &fresh.access_token,
        ))
        .await
        .unwrap();
    let took = refused_within_5s(&mut app, &fresh.access_token).await;
    eprintln!("ChangePassword reached the todo-service in {took:?}");

    // The feed goes down with the auth-service: revocation is not silently skipped; the
    // broken stream makes the feed not current at once, the fallback cannot ask either,
    // so calls fail with UNAVAILABLE until it is back.
    let (todo_addr, token) = (app.todo_server.addr, other.token.clone());
    let TestPairParts {
        auth_server,
        todo_server: _todo_server,
        dbs: _dbs,
    } = app.into_parts();
    auth_server.stop().await;
    let mut client = todo_grpc_proto::todo::v1::todo_service_client::TodoServiceClient::new(
        testkit::channel(todo_addr).await,
    );
    let start = Instant::now();
    loop {
        match client
            .list_todos(bearer(pb::ListTodosRequest::default(), &token))
            .await
        {
            Ok(_) if start.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Ok(_) => panic!("still answering 5 s after the revocation feed went down"),
            Err(s) => {
                assert_eq!(s.code(), Code::Unavailable, "{s:?}");
                eprintln!("feed down: refused with UNAVAILABLE after {:?}", start.elapsed());
                break;
            }
        }
    }
}

use crate::helpers::TestPairParts;

async fn keys_rotate_without_mass_logout(backend: Backend) {
    let old = testkit::TEST_SECRET;
    let new = "the-next-secret-0123456789abcdefghijklmnop";
    // Before: both services sign and verify with the old key.
    let mut app = spawn_pair(backend).await;
    let ulla = app.user("ulla").await;
    let todo = app.create(&ulla, "survives rotation").await;
    app.create(&ulla, "second of the list").await;
    // A list being paged through when the rotation starts.
    let first_page = app
        .todo
        .list_todos(bearer(
            pb::ListTodosRequest {
                page_size: 1,
                ..Default::default()
            },
            &ulla.token,
        ))
        .await
        .expect("first page")
        .into_inner();
    assert!(!first_page.next_page_token.is_empty());

    // During: the new key signs, the old one is still accepted everywhere.
    let todo_db = TestDb::new(backend).await;
    let mut config = todo_config(&todo_db.url);
    config.jwt.jwt_secret = Some(new.into());
    config.jwt.jwt_previous_secrets = vec![old.into()];
    let rotated = spawn_todo(config.clone()).await;
    let mut client = todo_grpc_proto::todo::v1::todo_service_client::TodoServiceClient::new(
        testkit::channel(rotated.addr).await,
    );
    client
        .list_todos(bearer(pb::ListTodosRequest::default(), &ulla.token))
        .await
        .expect("a token signed with the previous key is accepted");
    let _ = todo;
    // Its page token, made with the old key, is accepted by the rotated replica too.
    client
        .list_todos(bearer(
            pb::ListTodosRequest {
                page_size: 1,
                page_token: first_page.next_page_token.clone(),
                ..Default::default()
            },
            &ulla.token,
        ))
        .await
        .expect("a page token made with the previous key is accepted");

    // After: the old key removed, its tokens are refused.
    config.jwt.jwt_previous_secrets = vec![];
    let after = spawn_todo(config).await;
    let mut client = todo_grpc_proto::todo::v1::todo_service_client::TodoServiceClient::new(
        testkit::channel(after.addr).await,
    );
    let status = client
        .list_todos(bearer(pb::ListTodosRequest::default(), &ulla.token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // The auth-service side: a rotated auth-service accepts the old token and signs with the new kid.
    let auth_db = TestDb::new(backend).await;
    let mut auth_config = testkit::auth_config(&auth_db.url);
    auth_config.jwt.jwt_secret = Some(new.into());
    auth_config.jwt.jwt_previous_secrets = vec![old.into()];
    let auth = testkit::spawn_auth(auth_config).await;
    let mut auth_client = testkit::auth_client(auth.addr).await;
    let verified = auth_client
        .verify_token(authpb::VerifyTokenRequest {
            access_token: ulla.token.clone(),
        })
        .await;
    // This auth-service has a fresh database without ulla: the signature is accepted,
    // then the session is unknown here. What matters is that it is not a signature failure.
    let status = verified.unwrap_err();
    assert!(status.message().contains("revoked"), "{status:?}");
    let pair = testkit::register_and_login(&mut auth_client, "vera", "vera's password").await;
    let header = jsonwebtoken::decode_header(&pair.access_token).unwrap();
    let expected = token::JwtSecret::new(new.as_bytes().to_vec()).unwrap().key_id();
    assert_eq!(header.kid.as_deref(), Some(expected.as_str()));
}

/// Issue 10, item 1: per-user revocation times used to be the feed's cursor, and each
/// LogoutAll pushed one user's time past the clock, so a burst of cycles by one user hid
/// every other user's revocation. Now the feed's order is the database's, and no token's
/// `iat` runs ahead of the clock.
async fn one_users_churn_does_not_hide_anothers_revocation(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let victim = app.user("victim").await;
    let _churner = app.user("churner").await;
    let login = || authpb::LoginRequest {
        username: "churner".into(),
        password: "a good long password".into(),
    };
    for _ in 0..15 {
        let pair = app.auth.login(login()).await.unwrap().into_inner();
        let iat = testkit::jwt_claims(&pair.access_token)["iat"].as_i64().unwrap();
        assert!(
            iat <= common::time::Clock::system().now_secs(),
            "iat {iat} ahead of the clock"
        );
        app.auth
            .logout_all(bearer(authpb::LogoutAllRequest {}, &pair.access_token))
            .await
            .unwrap();
    }
    app.create(&victim, "still mine").await;
    app.auth
        .logout_all(bearer(authpb::LogoutAllRequest {}, &victim.token))
        .await
        .unwrap();
    let took = refused_within_5s(&mut app, &victim.token).await;
    eprintln!("after 15 LogoutAll cycles of another user, LogoutAll refused in {took:?}");
    // And a token issued right after a LogoutAll, in the same second, is valid.
    let pair = app.auth.login(login()).await.unwrap().into_inner();
    app.auth
        .logout_all(bearer(authpb::LogoutAllRequest {}, &pair.access_token))
        .await
        .unwrap();
    let fresh = app.auth.login(login()).await.unwrap().into_inner();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.todo
        .list_todos(bearer(pb::ListTodosRequest::default(), &fresh.access_token))
        .await
        .expect("a token issued after the LogoutAll is valid");
}

/// Issue 10, item 4: Logout ended the refresh family but left its access token valid
/// until expiry. Now it ends that session's access tokens (claim `sid`) at both
/// services, and only that session's.
async fn logout_ends_that_sessions_access_tokens_only(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let _ = app.user("dora").await;
    let login = || authpb::LoginRequest {
        username: "dora".into(),
        password: "a good long password".into(),
    };
    let laptop = app.auth.login(login()).await.unwrap().into_inner();
    let phone = app.auth.login(login()).await.unwrap().into_inner();
    let sid = |t: &str| testkit::jwt_claims(t)["sid"].as_str().unwrap().to_owned();
    assert_ne!(sid(&laptop.access_token), sid(&phone.access_token));
    // Rotation keeps the session: the refreshed token has the same sid.
    let laptop = app
        .auth
        .refresh(authpb::RefreshRequest {
            refresh_token: laptop.refresh_token,
        })
        .await
        .unwrap()
        .into_inner();
    app.auth
        .logout(authpb::LogoutRequest {
            refresh_token: laptop.refresh_token.clone(),
        })
        .await
        .unwrap();
    // At the auth-service at once.
    testkit::assert_status(
        app.auth
            .get_me(bearer(authpb::GetMeRequest {}, &laptop.access_token))
            .await,
        Code::Unauthenticated,
        "revoked",
    );
    let took = refused_within_5s(&mut app, &laptop.access_token).await;
    eprintln!("Logout reached the todo-service in {took:?}");
    // The other device's session goes on at both.
    app.auth
        .get_me(bearer(authpb::GetMeRequest {}, &phone.access_token))
        .await
        .expect("the other session is untouched");
    app.todo
        .list_todos(bearer(pb::ListTodosRequest::default(), &phone.access_token))
        .await
        .expect("the other session is untouched at the todo-service");
}

/// ResetPassword ends every session through the same path as LogoutAll: the revocation
/// feed tells the todo-service within 5 s. Mail goes to a folder (the file transport).
async fn password_reset_reaches_the_todo_service(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_owned();
    let mut app = crate::helpers::spawn_pair_configured(
        backend,
        |c| {
            c.mail.mail_outbox_dir = Some(folder.clone());
            c.mail.verify_email_url = Some("http://app.test/verify?token={token}".into());
            c.mail.reset_password_url = Some("http://app.test/reset?token={token}".into());
        },
        |_| {},
    )
    .await;
    app.auth
        .register(authpb::RegisterRequest {
            username: "rita".into(),
            password: "rita's old password".into(),
            email: "rita@example.com".into(),
        })
        .await
        .unwrap();
    let login = app
        .auth
        .login(authpb::LoginRequest {
            username: "rita".into(),
            password: "rita's old password".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let rita = crate::helpers::User {
        token: login.access_token,
        id: String::new(),
    };
    app.create(&rita, "before the reset").await;
    app.auth
        .request_password_reset(authpb::RequestPasswordResetRequest {
            email: "rita@example.com".into(),
        })
        .await
        .unwrap();
    let messages = testkit::mail::MailFolder::new(dir.path())
        .wait_for(2, Duration::from_secs(10))
        .await;
    let reset = messages
        .iter()
        .find(|m| m.contains("Reset your password"))
        .expect("the reset mail");
    app.auth
        .reset_password(authpb::ResetPasswordRequest {
            token: testkit::mail::link_token(reset),
            new_password: "rita's new password".into(),
        })
        .await
        .unwrap();
    let took = refused_within_5s(&mut app, &rita.token).await;
    eprintln!("ResetPassword reached the todo-service in {took:?}");
}
