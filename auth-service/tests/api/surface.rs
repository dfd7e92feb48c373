//! What surrounds the RPCs: health, reflection, limits, start-up checks.

use testkit::{Backend, TcpProxy, TestDb, both_backends};
use todo_grpc_proto::auth::v1 as pb;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::helpers::{spawn_app, spawn_app_with};

both_backends!(health_reflection_and_size_limit);

async fn health_reflection_and_size_limit(backend: Backend) {
    let mut app = spawn_app(backend).await;
    testkit::wait_serving(app.server.addr, auth_service::SERVICE_NAME).await;

    let services = testkit::reflected_services(app.server.addr).await;
    for name in [
        "auth.v1.AuthService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            services.contains(&name.to_owned()),
            "{name} missing from {services:?}"
        );
    }
    assert!(!services.iter().any(|s| s.starts_with("todo.")), "{services:?}");
    assert_eq!(testkit::reflected_services_v1(app.server.addr).await, services);

    // Over the size limit: refused from the length prefix, the connection stays usable.
    let big = pb::RegisterRequest {
        username: "x".repeat(64 * 1024),
        password: "long enough".into(),
        ..Default::default()
    };
    let status = app.client.register(big).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    app.client
        .register(pb::RegisterRequest {
            username: "after_big".into(),
            password: "long enough".into(),
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn missing_or_short_secret_stops_start_up() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut config = testkit::auth_config(&db.url);
    config.jwt.jwt_secret = None;
    let err = auth_service::startup::build(config.clone())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no JWT secret"), "{err}");
    config.jwt.jwt_secret = Some("too-short-secret".into());
    let err = auth_service::startup::build(config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("too short") && !err.contains("too-short-secret"),
        "{err}"
    );
}

/// The database goes away behind a proxy: health goes NOT_SERVING and calls fail with
/// UNAVAILABLE; it comes back and the same process recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_reported_and_survived() {
    let Some(pg) = testkit::postgres_url() else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let proxy = TcpProxy::start(testkit::postgres_addr(&pg).await).await;
    let mut config = testkit::auth_config(&db.url_via(proxy.addr));
    config.server.database_acquire_timeout = std::time::Duration::from_secs(1);
    let server = testkit::spawn_auth(config).await;
    let mut client = testkit::auth_client(server.addr).await;
    testkit::register_and_login(&mut client, "victor", "victor's password").await;

    proxy.set_up(false);
    testkit::wait_health(server.addr, auth_service::SERVICE_NAME, ServingStatus::NotServing).await;
    let status = client
        .register(pb::RegisterRequest {
            username: "wendy".into(),
            password: "wendy's password".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    proxy.set_up(true);
    testkit::wait_serving(server.addr, auth_service::SERVICE_NAME).await;
    testkit::register_and_login(&mut client, "wendy", "wendy's password").await;
}

/// `MAX_CONCURRENT_STREAMS` reaches the auth-service's HTTP/2 SETTINGS too (the bound
/// itself is tested at the todo-service: both run the same server shell).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_stream_bound_is_advertised() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.server.max_concurrent_streams = 32).await;
    let raw = testkit::h2raw::RawH2::connect(app.server.addr).await;
    assert_eq!(
        raw.settings.get(&testkit::h2raw::SETTINGS_MAX_CONCURRENT_STREAMS),
        Some(&32),
        "{:?}",
        raw.settings
    );
}
