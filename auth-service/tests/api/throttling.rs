//! Password attempts under attack: a burst for one name is evaluated at most the
//! budget's times, a signed-in user's password re-check shares the login's budget, and
//! client addresses are bucketed (IPv6 by /64) and read from trusted proxies only.

use std::time::Duration;

use testkit::{Backend, TestDb, bearer, both_backends};
use todo_grpc_proto::auth::v1::{self as pb, auth_service_client::AuthServiceClient};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

use crate::helpers::{assert_status, spawn_app_with};

both_backends!(
    a_burst_for_one_name_is_evaluated_at_most_the_budget,
    change_password_shares_the_login_budget,
    forwarded_addresses_count_per_64_from_trusted_proxies_only,
);

fn login(username: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        username: username.into(),
        password: password.into(),
    }
}

/// Checks RESOURCE_EXHAUSTED from the throttle (not the hash queue), with a RetryInfo.
#[track_caller]
fn assert_throttled<T: std::fmt::Debug>(result: Result<T, tonic::Status>) {
    let status = assert_status(result, Code::ResourceExhausted, "too many attempts");
    assert!(
        status
            .get_error_details()
            .retry_info()
            .and_then(|r| r.retry_delay)
            .is_some(),
        "no RetryInfo: {status:?}"
    );
}

/// Slow hashes, so a burst's attempts all arrive while the first are being checked;
/// a budget of 5 per name and none to speak of per address.
fn burst_config(c: &mut auth_service::Config) {
    c.login_max_failures = 5;
    c.login_max_failures_per_address = 10_000;
    c.argon2_iterations = 24;
    c.max_hash_queue = 256;
    c.hash_queue_timeout = Duration::from_secs(120);
}

/// 40 wrong passwords and the right one (for a `known` name) for `name` at once, spread
/// over `clients`; checks that at most the budget of 5 was evaluated and the right one
/// was refused.
async fn burst(clients: &[AuthServiceClient<Channel>], name: &str, right: &str, known: bool) {
    let mut calls = Vec::new();
    // The right one first: it is among the attempts taken, or refused outright.
    for i in 0..41 {
        let mut client = clients[i % clients.len()].clone();
        let password = if i == 0 {
            right.to_owned()
        } else {
            format!("wrong guess {i}")
        };
        let name = name.to_owned();
        calls.push(tokio::spawn(async move {
            client.login(login(&name, &password)).await
        }));
    }
    let mut evaluated = 0;
    let mut refused = 0;
    for (i, call) in calls.into_iter().enumerate() {
        match call.await.unwrap() {
            Ok(_) => panic!("the right password got in during a burst that exhausted the budget"),
            Err(s) if s.code() == Code::Unauthenticated => {
                assert!(i != 0 || !known, "the right password was answered as wrong");
                evaluated += 1;
            }
            Err(s) => {
                assert_throttled::<()>(Err(s));
                refused += 1;
            }
        }
    }
    assert!(
        evaluated <= 5,
        "{evaluated} attempts evaluated with a budget of 5"
    );
    assert_eq!(evaluated + refused, 41);
    // And the name stays locked for the right password.
    let mut client = clients[0].clone();
    assert_throttled(client.login(login(name, right)).await);
}

async fn a_burst_for_one_name_is_evaluated_at_most_the_budget(backend: Backend) {
    let mut app = spawn_app_with(backend, burst_config).await;
    app.client
        .register(pb::RegisterRequest {
            username: "besieged".into(),
            password: "besieged's password".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    burst(&[app.client.clone()], "besieged", "besieged's password", true).await;
    // An unknown name is budgeted alike.
    burst(&[app.client.clone()], "nobody-here", "whatever password", false).await;
}

/// The same across two replicas on one PostgreSQL: the budget lives in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_across_two_replicas_is_evaluated_at_most_the_budget() {
    if testkit::postgres_url().is_none() {
        eprintln!("skipped: TEST_POSTGRES_URL is not set (replicas need a shared PostgreSQL)");
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let mut replicas = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..2 {
        let mut config = testkit::auth_config(&db.url);
        burst_config(&mut config);
        let server = testkit::spawn_auth(config).await;
        clients.push(testkit::auth_client(server.addr).await);
        replicas.push(server);
    }
    clients[1]
        .register(pb::RegisterRequest {
            username: "besieged".into(),
            password: "besieged's password".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    burst(&clients, "besieged", "besieged's password", true).await;
}

async fn change_password_shares_the_login_budget(backend: Backend) {
    let mut app = spawn_app_with(backend, |c| c.login_max_failures = 3).await;
    let pair = testkit::register_and_login(&mut app.client, "stolen", "stolen's password").await;
    let change = |current: &str| {
        bearer(
            pb::ChangePasswordRequest {
                current_password: current.into(),
                new_password: "attacker's password".into(),
            },
            &pair.access_token,
        )
    };
    for i in 0..3 {
        assert_status(
            app.client.change_password(change(&format!("guess {i}"))).await,
            Code::InvalidArgument,
            "current_password",
        );
    }
    // The budget is spent: the right current password is refused too, ...
    assert_throttled(app.client.change_password(change("stolen's password")).await);
    // ... and so is the owner's login, which shares the name's budget.
    assert_throttled(app.client.login(login("stolen", "stolen's password")).await);
    // The password did not change.
    app.client
        .get_me(bearer(pb::GetMeRequest {}, &pair.access_token))
        .await
        .unwrap();
}

/// A login for `name` with a wrong password, as if forwarded for `client` (the header
/// `header`: `x-forwarded-for` or `forwarded`).
async fn wrong_login_via(
    client: &mut AuthServiceClient<Channel>,
    name: &str,
    header: &'static str,
    value: &str,
) -> Result<tonic::Response<pb::TokenPair>, tonic::Status> {
    let mut request = tonic::Request::new(login(name, "wrong guess"));
    request.metadata_mut().insert(header, value.parse().unwrap());
    client.login(request).await
}

async fn forwarded_addresses_count_per_64_from_trusted_proxies_only(backend: Backend) {
    let limits = |c: &mut auth_service::Config| {
        c.login_max_failures = 1000;
        c.login_max_failures_per_address = 3;
    };
    let xff = "x-forwarded-for";
    // The test's loopback connection is the trusted proxy.
    let mut app = spawn_app_with(backend, |c| {
        limits(c);
        c.trusted_proxies = vec![common::client_addr::parse_net("127.0.0.1/32").unwrap()];
    })
    .await;
    let c = &mut app.client;
    for i in 0..3 {
        let hop = format!("2001:db8:1:1::{}", i + 1);
        assert_status(
            wrong_login_via(c, &format!("name{i}"), xff, &format!("192.0.2.1, {hop}")).await,
            Code::Unauthenticated,
            "invalid",
        );
    }
    // Another address of the same /64 has no budget left, by either header.
    assert_throttled(wrong_login_via(c, "name3", xff, "2001:db8:1:1:ffff::9").await);
    assert_throttled(wrong_login_via(c, "name3", "forwarded", r#"for="[2001:db8:1:1::77]:443""#).await);
    // Other /64s, and the proxy itself, each have budgets of their own.
    for hop in ["2001:db8:1:2::1", "2001:db8:2:1::1"] {
        assert_status(
            wrong_login_via(c, "name4", xff, hop).await,
            Code::Unauthenticated,
            "invalid",
        );
    }
    assert_status(
        c.login(login("name5", "wrong guess")).await,
        Code::Unauthenticated,
        "invalid",
    );

    // Not a trusted proxy: the header is the client's own say, ignored; every call counts
    // for the peer, whatever address it names.
    let mut app = spawn_app_with(backend, limits).await;
    let c = &mut app.client;
    for i in 0..3 {
        let hop = format!("2001:db8:{i}::1");
        assert_status(
            wrong_login_via(c, &format!("name{i}"), xff, &hop).await,
            Code::Unauthenticated,
            "invalid",
        );
    }
    assert_throttled(wrong_login_via(c, "name3", xff, "2001:db8:99::1").await);
    assert_throttled(wrong_login_via(c, "name3", "forwarded", "for=198.51.100.7").await);
}
