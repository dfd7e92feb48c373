//! Issue 14: the user's sessions, security history and account deletion, through the API.

use std::net::SocketAddr;

use testkit::{Backend, bearer, both_backends, register_and_login};
use todo_grpc_proto::auth::v1::{self as pb, auth_service_client::AuthServiceClient, security_event::Kind};
use tonic::{Code, transport::Channel};

use common::time::Clock;

use crate::helpers::{assert_status, spawn_app, spawn_app_on};

both_backends!(
    sessions_are_listed_and_ended_one_by_one,
    the_history_records_every_kind_in_order,
    deleting_the_account_deletes_everything_of_it,
);

/// A client whose calls carry `user_agent` (as a second device would).
async fn device(addr: SocketAddr, user_agent: &str) -> AuthServiceClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .user_agent(user_agent)
        .unwrap()
        .connect()
        .await
        .unwrap();
    AuthServiceClient::new(channel)
}

fn login(name: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        username: name.into(),
        password: password.into(),
    }
}

fn sid(token: &str) -> String {
    testkit::jwt_claims(token)["sid"].as_str().unwrap().to_owned()
}

async fn sessions_are_listed_and_ended_one_by_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let addr = app.server.addr;
    let mut laptop = device(addr, "laptop-browser/1.0").await;
    let mut phone = device(addr, "phone-app/2.0").await;
    register_and_login(&mut laptop, "sally", "sally's password").await;
    let on_phone = phone
        .login(login("sally", "sally's password"))
        .await
        .unwrap()
        .into_inner();
    let on_laptop = laptop
        .login(login("sally", "sally's password"))
        .await
        .unwrap()
        .into_inner();
    // The registration's own login is a third session; end it, so two remain.
    let list = |client: &mut AuthServiceClient<Channel>, token: String| {
        let mut client = client.clone();
        async move {
            client
                .list_sessions(bearer(pb::ListSessionsRequest {}, &token))
                .await
                .unwrap()
                .into_inner()
                .sessions
        }
    };
    let sessions = list(&mut laptop, on_laptop.access_token.clone()).await;
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    // Newest first; the caller's own is marked.
    assert_eq!(sessions[0].id, sid(&on_laptop.access_token));
    assert!(sessions[0].current);
    assert!(
        sessions[0].user_agent.contains("laptop-browser/1.0"),
        "{:?}",
        sessions[0].user_agent
    );
    assert_eq!(sessions[0].client_address, "127.0.0.1");
    assert_eq!(sessions[1].id, sid(&on_phone.access_token));
    assert!(!sessions[1].current);
    assert!(sessions[1].user_agent.contains("phone-app/2.0"));
    assert!(
        sessions
            .iter()
            .all(|s| micros(&s.expire_time) > micros(&s.create_time))
    );
    let oldest = sessions[2].id.clone();
    laptop
        .revoke_session(bearer(
            pb::RevokeSessionRequest { session_id: oldest },
            &on_laptop.access_token,
        ))
        .await
        .unwrap();

    // Rotation keeps the session's id and moves its last refresh time.
    let rotated = phone
        .refresh(pb::RefreshRequest {
            refresh_token: on_phone.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sid(&rotated.access_token), sid(&on_phone.access_token));
    let sessions = list(&mut phone, rotated.access_token.clone()).await;
    assert_eq!(sessions.len(), 2);
    let phone_session = sessions.iter().find(|s| s.current).unwrap();
    assert!(micros(&phone_session.last_refresh_time) > micros(&phone_session.create_time));

    // The laptop ends the phone's session: the phone is out, the laptop goes on.
    laptop
        .revoke_session(bearer(
            pb::RevokeSessionRequest {
                session_id: phone_session.id.clone(),
            },
            &on_laptop.access_token,
        ))
        .await
        .unwrap();
    assert_status(
        phone
            .get_me(bearer(pb::GetMeRequest {}, &rotated.access_token))
            .await,
        Code::Unauthenticated,
        "revoked",
    );
    assert_status(
        phone
            .refresh(pb::RefreshRequest {
                refresh_token: rotated.refresh_token,
            })
            .await,
        Code::Unauthenticated,
        "refresh token",
    );
    laptop
        .get_me(bearer(pb::GetMeRequest {}, &on_laptop.access_token))
        .await
        .expect("the other device's session is untouched");
    assert_eq!(list(&mut laptop, on_laptop.access_token.clone()).await.len(), 1);

    // An ended session, another user's, and junk.
    let revoke = |id: &str| {
        bearer(
            pb::RevokeSessionRequest {
                session_id: id.into(),
            },
            &on_laptop.access_token,
        )
    };
    assert_status(
        laptop.revoke_session(revoke(&phone_session.id)).await,
        Code::NotFound,
        "session",
    );
    let other = register_and_login(&mut phone, "tom", "tom's password!").await;
    assert_status(
        laptop.revoke_session(revoke(&sid(&other.access_token))).await,
        Code::NotFound,
        "session",
    );
    phone
        .get_me(bearer(pb::GetMeRequest {}, &other.access_token))
        .await
        .expect("another user's session cannot be ended by sally");
    assert_status(
        laptop.revoke_session(revoke("not-a-uuid")).await,
        Code::InvalidArgument,
        "session_id",
    );
}

async fn events(
    client: &mut AuthServiceClient<Channel>,
    token: &str,
    page_size: i32,
) -> Vec<pb::SecurityEvent> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_security_events(bearer(
                pb::ListSecurityEventsRequest {
                    page_size,
                    page_token: page_token.clone(),
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.events.len() <= page_size.max(1) as usize);
        all.extend(page.events);
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

async fn the_history_records_every_kind_in_order(backend: Backend) {
    let clock = Clock::manual();
    let app = spawn_app_on(&clock, backend, |c| {
        c.login_lockout = std::time::Duration::from_secs(60)
    })
    .await;
    let mut c = device(app.server.addr, "history-test").await;
    let password = "vera's password";
    let first = register_and_login(&mut c, "vera", password).await; // REGISTERED, LOGIN_SUCCEEDED
    let _ = c.login(login("vera", "wrong password")).await; // LOGIN_FAILED
    let _ = c.login(login("nobody-here", "wrong password")).await; // recorded against no one
    let second = c
        .refresh(pb::RefreshRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    // Presenting the rotated token again: REFRESH_REUSE_DETECTED for the first session.
    let _ = c
        .refresh(pb::RefreshRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await;
    let third = c.login(login("vera", password)).await.unwrap().into_inner(); // LOGIN_SUCCEEDED
    c.logout(pb::LogoutRequest {
        refresh_token: third.refresh_token,
    })
    .await
    .unwrap(); // LOGGED_OUT
    let fourth = c.login(login("vera", password)).await.unwrap().into_inner(); // LOGIN_SUCCEEDED
    let fifth = c.login(login("vera", password)).await.unwrap().into_inner(); // LOGIN_SUCCEEDED
    c.revoke_session(bearer(
        pb::RevokeSessionRequest {
            session_id: sid(&fifth.access_token),
        },
        &fourth.access_token,
    ))
    .await
    .unwrap(); // SESSION_REVOKED
    c.change_password(bearer(
        pb::ChangePasswordRequest {
            current_password: password.into(),
            new_password: "vera's new password".into(),
        },
        &fourth.access_token,
    ))
    .await
    .unwrap(); // PASSWORD_CHANGED
    let sixth = c
        .login(login("vera", "vera's new password"))
        .await
        .unwrap()
        .into_inner(); // LOGIN_SUCCEEDED
    c.logout_all(bearer(pb::LogoutAllRequest {}, &sixth.access_token))
        .await
        .unwrap(); // LOGGED_OUT_ALL
    // Lock the name: four more failures reach the budget, the next is refused.
    for _ in 0..5 {
        let _ = c.login(login("vera", "wrong password")).await;
    }
    let _ = c.login(login("vera", "wrong password")).await; // LOGIN_THROTTLED (once)
    let _ = c.login(login("vera", "wrong password")).await;
    let _ = second;

    // Read with a new session once the lock-out has passed.
    clock.advance(std::time::Duration::from_secs(60));
    let reader = c
        .login(login("vera", "vera's new password"))
        .await
        .unwrap()
        .into_inner();
    let all = events(&mut c, &reader.access_token, 3).await;
    let kinds: Vec<Kind> = all.iter().map(|e| e.kind()).collect();
    let mut expected = vec![
        Kind::Registered,
        Kind::LoginSucceeded,
        Kind::LoginFailed,
        Kind::RefreshReuseDetected,
        Kind::LoginSucceeded,
        Kind::LoggedOut,
        Kind::LoginSucceeded,
        Kind::LoginSucceeded,
        Kind::SessionRevoked,
        Kind::PasswordChanged,
        Kind::LoginSucceeded,
        Kind::LoggedOutAll,
    ];
    expected.extend([Kind::LoginFailed; 5]);
    expected.extend([Kind::LoginThrottled, Kind::LoginSucceeded]);
    expected.reverse();
    // The throttle's exact boundary is its business; what matters here is the order and
    // that a refused attempt on a locked account is recorded once, not once per call.
    let throttled = kinds.iter().filter(|k| **k == Kind::LoginThrottled).count();
    assert_eq!(throttled, 1, "{kinds:?}");
    let without_failures = |ks: &[Kind]| -> Vec<Kind> {
        ks.iter()
            .copied()
            .filter(|k| !matches!(k, Kind::LoginFailed | Kind::LoginThrottled))
            .collect()
    };
    assert_eq!(without_failures(&kinds), without_failures(&expected), "{kinds:?}");
    assert!(kinds.contains(&Kind::LoginFailed));
    // Newest first, and the sessions named are the right ones.
    assert!(all.windows(2).all(|w| micros(&w[0].time) >= micros(&w[1].time)));
    let find = |kind: Kind| all.iter().find(|e| e.kind() == kind).unwrap();
    assert_eq!(find(Kind::Registered).session_id, "");
    assert_eq!(find(Kind::SessionRevoked).session_id, sid(&fifth.access_token));
    assert_eq!(find(Kind::PasswordChanged).session_id, sid(&fourth.access_token));
    assert_eq!(find(Kind::LoggedOutAll).session_id, sid(&sixth.access_token));
    assert_eq!(
        find(Kind::RefreshReuseDetected).session_id,
        sid(&first.access_token)
    );
    assert!(all.iter().all(|e| e.client_address == "127.0.0.1"));
    assert!(find(Kind::Registered).user_agent.contains("history-test"));
    // Paging at another size sees the same events, once each.
    let by_one: Vec<String> = events(&mut c, &reader.access_token, 1)
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(by_one, all.iter().map(|e| e.id.clone()).collect::<Vec<_>>());
    // Nothing was recorded for the unknown name: every event is vera's (the query is
    // scoped), and the table holds no other user's rows.
    let db = pool(&app._db.url).await;
    let others: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) AS n FROM security_events WHERE user_id NOT IN (SELECT id FROM users)")
            .fetch_one(&db)
            .await
            .unwrap(),
        "n",
    );
    assert_eq!(others, 0);
    assert_status(
        c.list_security_events(bearer(
            pb::ListSecurityEventsRequest {
                page_size: 1,
                page_token: "garbage".into(),
            },
            &reader.access_token,
        ))
        .await,
        Code::InvalidArgument,
        "page_token",
    );
}

async fn pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url).await.unwrap()
}

async fn count(db: &sqlx::AnyPool, sql: String, user: &str) -> i64 {
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user.to_owned())
        .fetch_one(db)
        .await
        .unwrap();
    sqlx::Row::get(&row, "n")
}

fn micros(t: &Option<prost_types::Timestamp>) -> i64 {
    let t = t.as_ref().expect("a timestamp");
    t.seconds * 1_000_000 + i64::from(t.nanos / 1000)
}

async fn deleting_the_account_deletes_everything_of_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut c = app.client.clone();
    let pair = register_and_login(&mut c, "walt", "walt's password").await;
    let other_device = c
        .login(login("walt", "walt's password"))
        .await
        .unwrap()
        .into_inner();
    let me = c
        .get_me(bearer(pb::GetMeRequest {}, &pair.access_token))
        .await
        .unwrap()
        .into_inner();
    let delete = |password: &str| {
        bearer(
            pb::DeleteAccountRequest {
                password: password.into(),
            },
            &pair.access_token,
        )
    };
    assert_status(
        c.delete_account(delete("not walt's password")).await,
        Code::InvalidArgument,
        "password",
    );
    c.delete_account(delete("walt's password")).await.unwrap();

    for token in [&pair.access_token, &other_device.access_token] {
        assert_status(
            c.get_me(bearer(pb::GetMeRequest {}, token)).await,
            Code::Unauthenticated,
            "revoked",
        );
    }
    assert_status(
        c.refresh(pb::RefreshRequest {
            refresh_token: other_device.refresh_token,
        })
        .await,
        Code::Unauthenticated,
        "refresh token",
    );
    assert_status(
        c.login(login("walt", "walt's password")).await,
        Code::Unauthenticated,
        "invalid username or password",
    );
    let db = pool(&app._db.url).await;
    for table in [
        "users WHERE id",
        "sessions WHERE user_id",
        "security_events WHERE user_id",
    ] {
        let n = count(&db, format!("SELECT COUNT(*) AS n FROM {table} = $1"), &me.id).await;
        assert_eq!(n, 0, "{table}");
    }
    // The feed tells the todo-services.
    let deleted = count(
        &db,
        "SELECT COUNT(*) AS n FROM revocation_log WHERE user_id = $1 AND account_deleted".into(),
        &me.id,
    )
    .await;
    assert_eq!(deleted, 1);

    // The name is free at once, and the new account sees nothing of the old one.
    let again = register_and_login(&mut c, "walt", "another walt's password").await;
    let new_me = c
        .get_me(bearer(pb::GetMeRequest {}, &again.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(new_me.id, me.id);
    let history = events(&mut c, &again.access_token, 50).await;
    let kinds: Vec<Kind> = history.iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, [Kind::LoginSucceeded, Kind::Registered]);
    let sessions = c
        .list_sessions(bearer(pb::ListSessionsRequest {}, &again.access_token))
        .await
        .unwrap()
        .into_inner()
        .sessions;
    assert_eq!(sessions.len(), 1);
}
