//! Metrics, request ids and deadlines.

use std::time::Duration;

use http_body_util::BodyExt;
use testkit::Backend;
use todo_grpc_proto::auth::v1 as pb;
use tonic::Code;

use crate::helpers::spawn_app_with;

async fn scrape(addr: std::net::SocketAddr) -> String {
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let request = http::Request::get(format!("http://{addr}/metrics"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = client.request(request).await.expect("scrape");
    assert_eq!(response.status(), 200);
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_in_prometheus_format() {
    let mut app = spawn_app_with(Backend::Sqlite, |c| {
        c.server.metrics_addr = Some("127.0.0.1:0".parse().unwrap())
    })
    .await;
    let metrics = app.server.metrics_addr.expect("METRICS_ADDR is on");
    testkit::register_and_login(&mut app.client, "metered", "metered password").await;
    let _ = app
        .client
        .login(pb::LoginRequest {
            username: "metered".into(),
            password: "wrong password".into(),
        })
        .await;
    // Pool gauges are refreshed every 2 s by the health task.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let text = scrape(metrics).await;
    for needle in [
        r#"grpc_server_handled_total{service="auth.v1.AuthService",method="Login",code="OK"}"#,
        r#"grpc_server_handled_total{service="auth.v1.AuthService",method="Login",code="UNAUTHENTICATED"}"#,
        r#"grpc_server_handling_seconds_bucket{service="auth.v1.AuthService",method="Register",code="OK",le="0.5"}"#,
        "auth_login_failures_total",
        r#"db_pool_connections{service="auth.v1.AuthService",state="idle"}"#,
        "db_pool_max_connections",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(!text.contains("metered password"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_echoed_or_generated_and_deadlines_honoured() {
    let mut app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let mut request = tonic::Request::new(pb::GetMeRequest {});
    request
        .metadata_mut()
        .insert("x-request-id", "trace-me-42".parse().unwrap());
    let status = app.client.get_me(request).await.unwrap_err();
    assert_eq!(status.metadata().get("x-request-id").unwrap(), "trace-me-42");
    let status = app.client.get_me(pb::GetMeRequest {}).await.unwrap_err();
    let generated = status.metadata().get("x-request-id").unwrap().to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");

    // A deadline shorter than an argon2 hash: the server gives up on the call.
    testkit::register_and_login(&mut app.client, "hasty", "hasty password").await;
    let mut request = tonic::Request::new(pb::LoginRequest {
        username: "hasty".into(),
        password: "hasty password".into(),
    });
    request.set_timeout(Duration::from_millis(1));
    let status = app.client.login(request).await.unwrap_err();
    assert!(
        matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded),
        "{status:?}"
    );
}
