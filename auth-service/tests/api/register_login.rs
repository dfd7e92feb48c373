use std::time::Instant;

use testkit::{Backend, both_backends, register_and_login};
use todo_grpc_proto::auth::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{assert_status, spawn_app};

fn register(username: &str, password: &str) -> pb::RegisterRequest {
    pb::RegisterRequest {
        username: username.into(),
        password: password.into(),
        ..Default::default()
    }
}

fn login(username: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        username: username.into(),
        password: password.into(),
    }
}

both_backends!(
    register_returns_the_user,
    usernames_are_unique_without_regard_to_case,
    register_validates_each_field,
    login_issues_a_token_pair,
    login_failures_look_alike,
    get_me_and_verify_token,
);

async fn register_returns_the_user(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let user = app
        .client
        .register(register("Alice", "correct horse battery"))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(user.username, "Alice");
    assert!(uuid::Uuid::parse_str(&user.id).is_ok(), "{}", user.id);
    let created = user.create_time.unwrap();
    let now = common::time::Clock::system().now_secs();
    assert!((now - created.seconds).abs() < 60);
}

async fn usernames_are_unique_without_regard_to_case(backend: Backend) {
    let mut app = spawn_app(backend).await;
    app.client
        .register(register("bob", "password-one"))
        .await
        .unwrap();
    for name in ["bob", "BOB", "Bob"] {
        let r = app.client.register(register(name, "password-two")).await;
        assert_status(r, Code::AlreadyExists, "taken");
    }
}

async fn register_validates_each_field(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let cases = [
        (register("ab", "long enough"), "username", "3 to 32"),
        (register(&"a".repeat(33), "long enough"), "username", "3 to 32"),
        (
            register("has space", "long enough"),
            "username",
            "may contain only",
        ),
        (register("emoji🙂", "long enough"), "username", "may contain only"),
        (register("carol", "short"), "password", "8 to 128"),
        (register("carol", &"p".repeat(129)), "password", "8 to 128"),
        (register("carol", ""), "password", "8 to 128"),
        (register("carol", "Password1"), "password", "most common"),
        (register("carol", "iloveyou"), "password", "most common"),
    ];
    for (request, field, rule) in cases {
        let status = assert_status(app.client.register(request).await, Code::InvalidArgument, rule);
        assert!(status.message().starts_with(field), "{}", status.message());
        let details = status.get_error_details();
        let violation = &details.bad_request().expect("BadRequest detail").field_violations[0];
        assert_eq!(violation.field, field);
    }
    // 128 characters of a multi-byte letter is within the limit: characters, not bytes.
    app.client
        .register(register("dave", &"éa".repeat(64)))
        .await
        .unwrap();
}

async fn login_issues_a_token_pair(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let pair = register_and_login(&mut app.client, "erin", "erin's password").await;
    assert_eq!(pair.token_type, "Bearer");
    assert_eq!(pair.expires_in, 15 * 60);
    assert_eq!(pair.refresh_expires_in, 30 * 24 * 3600);
    assert_eq!(pair.refresh_token.len(), 43);
    assert_eq!(pair.access_token.split('.').count(), 3);
    // Case-insensitive login.
    app.client.login(login("ERIN", "erin's password")).await.unwrap();
    // Each login is a new session with its own refresh token.
    let again = app
        .client
        .login(login("erin", "erin's password"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(again.refresh_token, pair.refresh_token);
}

async fn login_failures_look_alike(backend: Backend) {
    let mut app = spawn_app(backend).await;
    app.client
        .register(register("frank", "frank's password"))
        .await
        .unwrap();
    let wrong = assert_status(
        app.client.login(login("frank", "not the password")).await,
        Code::Unauthenticated,
        "invalid username or password",
    );
    let unknown = assert_status(
        app.client.login(login("nobody", "not the password")).await,
        Code::Unauthenticated,
        "invalid username or password",
    );
    let malformed = assert_status(
        app.client.login(login("no body!", "not the password")).await,
        Code::Unauthenticated,
        "invalid username or password",
    );
    assert_eq!(wrong.message(), unknown.message());
    assert_eq!(wrong.message(), malformed.message());

    // An unknown user costs an argon2 verification too. Compare medians of interleaved
    // calls (so other tests' load hits both alike), as a ratio: without the dummy
    // verification an unknown user answers ~50x faster.
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        for (user, times) in [("frank", &mut known), ("nobody", &mut unknown)] {
            let start = Instant::now();
            let _ = app.client.login(login(user, "not the password")).await;
            times.push(start.elapsed().as_secs_f64());
        }
    }
    known.sort_by(f64::total_cmp);
    unknown.sort_by(f64::total_cmp);
    let ratio = unknown[3] / known[3];
    assert!(
        (0.33..3.0).contains(&ratio),
        "unknown/known login time ratio {ratio:.2} ({:.4}s vs {:.4}s)",
        unknown[3],
        known[3]
    );
}

async fn get_me_and_verify_token(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let pair = register_and_login(&mut app.client, "grace", "grace's password").await;
    let me = app
        .client
        .get_me(testkit::bearer(pb::GetMeRequest {}, &pair.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.username, "grace");

    let verified = app
        .client
        .verify_token(pb::VerifyTokenRequest {
            access_token: pair.access_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(verified.user_id, me.id);
    assert_eq!(verified.username, "grace");
    let exp = verified.expire_time.unwrap().seconds;
    assert!((exp - common::time::Clock::system().now_secs() - 900).abs() < 60);

    assert_status(
        app.client.get_me(pb::GetMeRequest {}).await,
        Code::Unauthenticated,
        "missing bearer token",
    );
    let garbage = "Bearer not.a.token";
    let mut req = tonic::Request::new(pb::GetMeRequest {});
    req.metadata_mut()
        .insert("authorization", garbage.parse().unwrap());
    let status = assert_status(
        app.client.get_me(req).await,
        Code::Unauthenticated,
        "access token",
    );
    assert!(!status.message().contains("not.a.token"));
    assert_status(
        app.client
            .verify_token(pb::VerifyTokenRequest {
                access_token: format!("{}x", pair.access_token),
            })
            .await,
        Code::Unauthenticated,
        "invalid access token",
    );
    assert_status(
        app.client.verify_token(pb::VerifyTokenRequest::default()).await,
        Code::InvalidArgument,
        "access_token",
    );
}
