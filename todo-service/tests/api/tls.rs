//! Issue 17: TLS on the service port (gRPC and gRPC-Web), mTLS, certificate rotation
//! without a restart, start-up refusals, and the todo-service following the revocation
//! feed over mTLS. Certificates are made per test (testkit::tls, rcgen).

use std::time::{Duration, Instant};

use testkit::{
    Backend, TestDb, bearer,
    tls::{TestPki, Usage, client_tls},
    web,
};
use todo_grpc_proto::{
    auth::v1::{self as authpb, auth_service_client::AuthServiceClient},
    todo::v1::{self as pb, todo_service_client::TodoServiceClient},
};
use tonic::Code;

/// An auth-service configuration serving `server` (and requiring client certificates of
/// `client_ca` when given), checking its files every 50 ms.
fn auth_tls_config(
    db: &TestDb,
    server: &testkit::tls::Issued,
    client_ca: Option<&std::path::Path>,
) -> auth_service::Config {
    let mut config = testkit::auth_config(&db.url);
    config.server.tls.tls_cert_file = Some(server.cert.clone());
    config.server.tls.tls_key_file = Some(server.key.clone());
    config.server.tls.tls_client_ca_file = client_ca.map(ToOwned::to_owned);
    config.server.tls.tls_reload_interval = Duration::from_millis(50);
    config
}

fn health_request() -> tonic_health::pb::HealthCheckRequest {
    tonic_health::pb::HealthCheckRequest::default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_and_grpc_web_over_tls() {
    let pki = TestPki::default();
    let server = pki.issue("server", Usage::Server);
    let db = TestDb::new(Backend::Sqlite).await;
    let tls = client_tls(&pki.ca, None);
    let auth = testkit::spawn_auth_tls(auth_tls_config(&db, &server, None), &tls).await;

    // gRPC (HTTP/2, ALPN h2): a real call.
    let mut client = AuthServiceClient::new(testkit::tls::channel(auth.addr, &tls));
    let pair = testkit::register_and_login(&mut client, "tls_user", "a long enough password").await;
    assert!(!pair.access_token.is_empty());

    // gRPC-Web (HTTP/1.1, ALPN http/1.1) on the same port, binary and text.
    for encoding in [web::Encoding::Binary, web::Encoding::Text] {
        let response = web::call_tls(
            auth.addr,
            "/grpc.health.v1.Health/Check",
            &health_request(),
            encoding,
            &tls,
        )
        .await
        .expect("gRPC-Web over TLS");
        assert_eq!(response.http_status, 200);
        assert_eq!(response.grpc_status.as_deref(), Some("0"), "{response:?}");
        let health: tonic_health::pb::HealthCheckResponse = response.decode();
        assert_eq!(health.status, 1);
    }

    // Plaintext is not answered on a TLS port.
    let plain = tonic::transport::Endpoint::from_shared(format!("http://{}", auth.addr))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy();
    let result = tonic_health::pb::health_client::HealthClient::new(plain)
        .check(health_request())
        .await;
    assert!(
        result.is_err(),
        "plaintext call answered on a TLS port: {result:?}"
    );

    // A client that trusts another CA refuses the server.
    let other = TestPki::new("other CA");
    let result = tonic_health::pb::health_client::HealthClient::new(testkit::tls::channel(
        auth.addr,
        &client_tls(&other.ca, None),
    ))
    .check(health_request())
    .await;
    assert!(
        result.is_err(),
        "a certificate of an unknown CA was accepted: {result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_refuses_clients_without_a_certificate() {
    let pki = TestPki::default();
    let server = pki.issue("server", Usage::Server);
    let client_cert = pki.issue("client", Usage::Client);
    let db = TestDb::new(Backend::Sqlite).await;
    let with_cert = client_tls(&pki.ca, Some(&client_cert));
    let mut config = auth_tls_config(&db, &server, Some(&pki.ca));
    config.server.tls.health_addr = Some("127.0.0.1:0".parse().unwrap());
    let auth = testkit::spawn_auth_tls(config, &with_cert).await;

    // With a certificate from the client CA: gRPC and gRPC-Web work.
    let mut client = AuthServiceClient::new(testkit::tls::channel(auth.addr, &with_cert));
    testkit::register_and_login(&mut client, "mtls_user", "a long enough password").await;
    let response = web::call_tls(
        auth.addr,
        "/grpc.health.v1.Health/Check",
        &health_request(),
        web::Encoding::Binary,
        &with_cert,
    )
    .await
    .expect("gRPC-Web with a client certificate");
    assert_eq!(response.grpc_status.as_deref(), Some("0"));

    // Without one, or with one from another CA: refused, over gRPC and gRPC-Web.
    let other = TestPki::new("other CA");
    let strangers = [
        ("no certificate", client_tls(&pki.ca, None)),
        (
            "a certificate of another CA",
            client_tls(&pki.ca, Some(&other.issue("stranger", Usage::Client))),
        ),
    ];
    for (what, tls) in &strangers {
        let mut client = AuthServiceClient::new(testkit::tls::channel(auth.addr, tls));
        let result = client
            .login(authpb::LoginRequest {
                username: "mtls_user".into(),
                password: "a long enough password".into(),
            })
            .await;
        // Refused in the handshake: tonic reports the TLS alert as a transport error, or,
        // when TLS 1.3 lets the client send before the server's verdict, as the
        // connection closing under the call (CANCELLED). Never an answer.
        let status = result.expect_err(what);
        assert!(
            matches!(status.code(), Code::Unavailable | Code::Unknown | Code::Cancelled),
            "{what}: {status:?}"
        );
        let web = web::call_tls(
            auth.addr,
            "/grpc.health.v1.Health/Check",
            &health_request(),
            web::Encoding::Binary,
            tls,
        )
        .await;
        assert!(web.is_err(), "{what}: gRPC-Web answered: {web:?}");
    }

    // The plaintext health port answers health, and nothing else.
    let health_addr = auth.health_addr.expect("HEALTH_ADDR is on");
    testkit::wait_serving(health_addr, "").await;
    let mut plain = testkit::auth_client(health_addr).await;
    let status = plain
        .login(authpb::LoginRequest {
            username: "mtls_user".into(),
            password: "a long enough password".into(),
        })
        .await
        .expect_err("Login on the health port");
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
}

/// The certificate a fresh TLS connection to `addr` is shown.
async fn served_certificate(addr: std::net::SocketAddr, tls: &common::tls::ClientTls) -> Vec<u8> {
    let stream = tls
        .connect("localhost", addr.port())
        .await
        .expect("TLS handshake");
    stream
        .get_ref()
        .1
        .peer_certificates()
        .expect("a server certificate")[0]
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_is_served_without_a_restart() {
    let pki = TestPki::default();
    let live = pki.issue("live", Usage::Server);
    let first = TestPki::leaf_der(&live);
    let db = TestDb::new(Backend::Sqlite).await;
    let tls = client_tls(&pki.ca, None);
    let auth = testkit::spawn_auth_tls(auth_tls_config(&db, &live, None), &tls).await;
    assert_eq!(served_certificate(auth.addr, &tls).await, first);
    let mut client = AuthServiceClient::new(testkit::tls::channel(auth.addr, &tls));
    testkit::register_and_login(&mut client, "rotating", "a long enough password").await;

    // A half-done rotation (the new certificate with the old key) is not taken.
    let next = pki.issue("next", Usage::Server);
    std::fs::write(&live.cert, std::fs::read(&next.cert).unwrap()).unwrap();
    // ... and once the key follows, the new pair is served, the process the same.
    std::fs::write(&live.key, std::fs::read(&next.key).unwrap()).unwrap();
    let second = TestPki::leaf_der(&next);
    let start = Instant::now();
    loop {
        let served = served_certificate(auth.addr, &tls).await;
        if served == second {
            break;
        }
        assert_eq!(served, first, "served neither the old nor the new certificate");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the rotated certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Calls go on, on the connection made before the rotation and on new ones.
    client
        .login(authpb::LoginRequest {
            username: "rotating".into(),
            password: "a long enough password".into(),
        })
        .await
        .expect("login after the rotation");
    let mut fresh = AuthServiceClient::new(testkit::tls::channel(auth.addr, &tls));
    fresh
        .login(authpb::LoginRequest {
            username: "rotating".into(),
            password: "a long enough password".into(),
        })
        .await
        .expect("login on a new connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_mismatched_certificate_stops_start_up() {
    let pki = TestPki::default();
    let db = TestDb::new(Backend::Sqlite).await;
    let todo_db = TestDb::new(Backend::Sqlite).await;
    let good = pki.issue("good", Usage::Server);
    let other = pki.issue("other", Usage::Server);
    let expired = pki.issue_expired("expired", Usage::Server);
    let mismatched = testkit::tls::Issued {
        cert: good.cert.clone(),
        key: other.key.clone(),
    };
    let missing = testkit::tls::Issued {
        cert: pki.dir.path().join("absent.pem"),
        key: good.key.clone(),
    };
    let cases = [
        (&expired, "expired on"),
        (&mismatched, "does not belong to the certificate"),
        (&missing, "cannot read TLS_CERT_FILE"),
    ];
    for (files, needle) in cases {
        let Err(e) = auth_service::startup::build(auth_tls_config(&db, files, None)).await else {
            panic!("auth-service started with {files:?}");
        };
        let message = e.to_string();
        assert!(message.contains(needle), "{message:?} does not say {needle:?}");
        let mut todo = testkit::todo_config(&todo_db.url);
        todo.server.tls.tls_cert_file = Some(files.cert.clone());
        todo.server.tls.tls_key_file = Some(files.key.clone());
        let Err(e) = todo_service::startup::build(todo).await else {
            panic!("todo-service started with {files:?}");
        };
        assert!(e.to_string().contains(needle), "{e}");
    }
    // The client side is held to the same: an expired client certificate for the hop
    // to the auth-service stops the todo-service.
    let mut todo = testkit::todo_config(&todo_db.url);
    todo.auth_service_url = Some("https://localhost:1".into());
    todo.auth_service_ca_file = Some(pki.ca.clone());
    todo.auth_service_client_cert_file = Some(expired.cert.clone());
    todo.auth_service_client_key_file = Some(expired.key.clone());
    let Err(e) = todo_service::startup::build(todo).await else {
        panic!("todo-service started with an expired client certificate");
    };
    assert!(e.to_string().contains("AUTH_SERVICE_CLIENT_CERT_FILE"), "{e}");
    // https without a CA to check the auth-service against is refused too.
    let mut todo = testkit::todo_config(&todo_db.url);
    todo.auth_service_url = Some("https://localhost:1".into());
    let Err(e) = todo_service::startup::build(todo).await else {
        panic!("todo-service started with https and no CA");
    };
    assert!(e.to_string().contains("AUTH_SERVICE_CA_FILE"), "{e}");
}

async fn todo_follows_feed_over_mtls(backend: Backend) {
    let pki = TestPki::default();
    let server = pki.issue("auth", Usage::Server);
    let todo_identity = pki.issue("todo-service", Usage::Client);
    let user_identity = pki.issue("user", Usage::Client);
    let (auth_db, todo_db) = (TestDb::new(backend).await, TestDb::new(backend).await);
    let user_tls = client_tls(&pki.ca, Some(&user_identity));
    let auth = testkit::spawn_auth_tls(auth_tls_config(&auth_db, &server, Some(&pki.ca)), &user_tls).await;

    // Without a client certificate the todo-service cannot ask the auth-service, and so
    // refuses every call rather than skip the revocation check.
    let mut anonymous = testkit::todo_config(&todo_db.url);
    anonymous.auth_service_url = Some(format!("https://localhost:{}", auth.addr.port()));
    anonymous.auth_service_ca_file = Some(pki.ca.clone());
    let anonymous = testkit::spawn_todo(anonymous).await;

    let mut config = testkit::todo_config(&todo_db.url);
    config.auth_service_url = Some(format!("https://localhost:{}", auth.addr.port()));
    config.auth_service_ca_file = Some(pki.ca.clone());
    config.auth_service_client_cert_file = Some(todo_identity.cert.clone());
    config.auth_service_client_key_file = Some(todo_identity.key.clone());
    let todo_server = testkit::spawn_todo(config).await;

    let mut auth_client = AuthServiceClient::new(testkit::tls::channel(auth.addr, &user_tls));
    let pair = testkit::register_and_login(&mut auth_client, "mtls_feed", "a long enough password").await;
    let list = |token: &str| bearer(pb::ListTodosRequest::default(), token);

    let mut todo = TodoServiceClient::new(testkit::channel(todo_server.addr).await);
    let start = Instant::now();
    while let Err(status) = todo.list_todos(list(&pair.access_token)).await {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "token never accepted: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut refused = TodoServiceClient::new(testkit::channel(anonymous.addr).await);
    let status = refused
        .list_todos(list(&pair.access_token))
        .await
        .expect_err("accepted without reaching the auth-service");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    auth_client
        .logout_all(bearer(authpb::LogoutAllRequest {}, &pair.access_token))
        .await
        .expect("LogoutAll");
    let start = Instant::now();
    loop {
        match todo.list_todos(list(&pair.access_token)).await {
            Err(s) if s.code() == Code::Unauthenticated => break,
            other => {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "LogoutAll did not reach the todo-service over mTLS in 5 s: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

testkit::both_backends!(todo_follows_feed_over_mtls);
