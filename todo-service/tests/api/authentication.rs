//! Issue 10, item 7: one authentication path per service. Every method of both services
//! that is not public, as reflection lists them (so an RPC added later is covered without
//! anyone remembering to), refuses a missing token and a token of an ended session.

use std::time::{Duration, Instant};

use testkit::{Backend, both_backends};
use todo_grpc_proto::auth::v1 as authpb;
use tonic::Code;

use crate::helpers::spawn_pair;

both_backends!(every_bearer_rpc_refuses_a_revoked_token);

/// The auth-service's methods that take no access token (they carry their own proof).
const AUTH_PUBLIC: &[&str] = &[
    "Register",
    "Login",
    "Refresh",
    "Logout",
    "VerifyToken",
    "VerifyEmail",
    "RequestPasswordReset",
    "ResetPassword",
];

async fn every_bearer_rpc_refuses_a_revoked_token(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let _ = app.user("rhea").await;
    let pair = app
        .auth
        .login(authpb::LoginRequest {
            username: "rhea".into(),
            password: "a good long password".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let token = pair.access_token;
    let auth_addr = app.auth_addr;
    let todo_addr = app.todo_server.addr;

    let mut targets = Vec::new();
    for (addr, service) in [
        (auth_addr, "auth.v1.AuthService"),
        (todo_addr, "todo.v1.TodoService"),
    ] {
        let methods = testkit::reflected_methods(addr, service).await;
        assert!(!methods.is_empty(), "{service} lists no methods");
        for (method, streaming) in methods {
            if service == "auth.v1.AuthService" && AUTH_PUBLIC.contains(&method.as_str()) {
                continue;
            }
            targets.push((addr, service, method, streaming));
        }
    }
    assert!(targets.len() >= 9, "too few bearer methods found: {targets:?}");

    // Before: with a valid token no call is refused as unauthenticated (it may be refused
    // for its empty request), except the internal one, which no user token passes. Each
    // call gets a session of its own, of another user, since some (LogoutAll) end the
    // caller's sessions.
    let _ = app.user("probe").await;
    for (addr, service, method, streaming) in &targets {
        let fresh = app
            .auth
            .login(authpb::LoginRequest {
                username: "probe".into(),
                password: "a good long password".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .access_token;
        let result = testkit::call_raw(*addr, service, method, *streaming, &fresh).await;
        if method == "WatchRevocations" {
            assert_eq!(result.unwrap_err().code(), Code::Unauthenticated);
        } else if let Err(s) = result {
            assert_ne!(
                s.code(),
                Code::Unauthenticated,
                "{service}/{method} refused a valid token: {s:?}"
            );
        }
        let missing = testkit::call_raw(*addr, service, method, *streaming, "").await;
        assert_eq!(
            missing.unwrap_err().code(),
            Code::Unauthenticated,
            "{service}/{method} without a token"
        );
    }

    // End the session (its refresh token's Logout), then every bearer method refuses it:
    // the auth-service at once, the todo-service within 5 s.
    app.auth
        .logout(authpb::LogoutRequest {
            refresh_token: pair.refresh_token,
        })
        .await
        .unwrap();
    let start = Instant::now();
    for (addr, service, method, streaming) in &targets {
        loop {
            match testkit::call_raw(*addr, service, method, *streaming, &token).await {
                Err(s) if s.code() == Code::Unauthenticated => break,
                other if start.elapsed() > Duration::from_secs(5) => {
                    panic!("{service}/{method} still accepts an ended session's token: {other:?}")
                }
                _ => {
                    assert_ne!(
                        *service, "auth.v1.AuthService",
                        "{method} accepted a revoked token"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}
