//! What common gRPC clients (grpcurl, buf curl, grpc-go, grpc-js, grpcio) rely on around
//! the RPCs: reflection that resolves what it lists, error details it can describe,
//! deadlines, health `Watch`, compression, and readable answers to plain HTTP/1.1.

use std::time::Duration;

use http::Method;
use testkit::{
    Backend,
    reflection::{self, VERSIONS, Version},
    web,
};
use todo_grpc_proto::auth::v1::{self as pb, auth_service_client::AuthServiceClient};
use tonic::{Code, codec::CompressionEncoding};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;

use crate::helpers::spawn_app;

const ERROR_MODEL: [&str; 3] = [
    "google.rpc.Status",
    "google.rpc.BadRequest",
    "google.rpc.RetryInfo",
];

/// Each version resolves every service either version lists (the two reflection
/// services included) and the error model's messages, through itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_versions_resolve_everything_they_list() {
    let app = spawn_app(Backend::Sqlite).await;
    let addr = app.server.addr;
    for version in VERSIONS {
        let listed = reflection::list(addr, version).await;
        assert!(
            listed.contains(&"grpc.reflection.v1.ServerReflection".to_owned())
                && listed.contains(&"grpc.reflection.v1alpha.ServerReflection".to_owned()),
            "{version:?}: {listed:?}"
        );
        reflection::assert_all_resolve(addr, version, &ERROR_MODEL).await;
    }
}

/// An unknown symbol is answered in the stream, which stays open for the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_answers_unknown_symbols_in_the_stream() {
    let app = spawn_app(Backend::Sqlite).await;
    for version in VERSIONS {
        let (answers, end) = reflection::converse(
            app.server.addr,
            version,
            vec![
                reflection::symbol("no.such.Symbol"),
                MessageRequest::FileByFilename("no/such/file.proto".into()),
                reflection::symbol("auth.v1.AuthService"),
            ],
        )
        .await;
        assert!(end.is_ok(), "{version:?}: {end:?}");
        assert_eq!(answers.len(), 3, "{version:?}: {answers:?}");
        for answer in &answers[..2] {
            let (code, _) = reflection::files(answer).expect_err("an error_response");
            assert_eq!(code, Code::NotFound as i32, "{version:?}");
            assert!(answer.original_request.is_some());
        }
        let files = reflection::files(&answers[2]).unwrap();
        assert!(reflection::defines(&files, "auth.v1.AuthService"));
    }
}

/// The reflected `google.rpc.BadRequest` has the fields a client decodes violations by.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflected_error_details_have_their_fields() {
    let app = spawn_app(Backend::Sqlite).await;
    let (answers, _) = reflection::converse(
        app.server.addr,
        Version::V1alpha,
        vec![reflection::symbol("google.rpc.BadRequest")],
    )
    .await;
    let files = reflection::files(&answers[0]).unwrap();
    let bad_request = files
        .iter()
        .flat_map(|f| &f.message_type)
        .find(|m| m.name() == "BadRequest")
        .unwrap();
    let violation = &bad_request.nested_type[0];
    assert_eq!(violation.name(), "FieldViolation");
    let fields: Vec<(&str, i32)> = violation.field.iter().map(|f| (f.name(), f.number())).collect();
    assert!(
        fields.starts_with(&[("field", 1), ("description", 2)]),
        "{fields:?}"
    );
}

/// `grpc-timeout` is read as the spec writes it (`1M` a minute, `1m` a millisecond), and
/// a deadline that has passed is `DEADLINE_EXCEEDED`, not tonic's `CANCELLED`. Raw
/// HTTP/2, since a tonic client enforces the header itself and would answer first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_are_read_as_written_and_end_in_deadline_exceeded() {
    let app = spawn_app(Backend::Sqlite).await;
    let register = |name: &str| pb::RegisterRequest {
        username: name.into(),
        password: "a good long password".into(),
        ..Default::default()
    };
    let call = |name: &'static str, timeout: &'static str| {
        let addr = app.server.addr;
        let message = register(name);
        async move {
            testkit::h2::unary(
                addr,
                "/auth.v1.AuthService/Register",
                &message,
                &[("grpc-timeout", timeout)],
            )
            .await
            .grpc_status()
        }
    };
    // A minute is plenty for a registration (argon2 and a write).
    assert_eq!(call("minute", "1M").await.as_deref(), Some("0"));
    // A nanosecond or a microsecond has passed by the time the request is read.
    for timeout in ["1n", "1u"] {
        assert_eq!(call("nano", timeout).await.as_deref(), Some("4"), "{timeout}");
    }
    assert_eq!(call("after", "10S").await.as_deref(), Some("0"));
}

/// A `Watch` of a service the server does not know gets SERVICE_UNKNOWN and stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_watch_of_an_unknown_service_stays_open() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut health = HealthClient::new(testkit::channel(app.server.addr).await);
    let mut stream = health
        .watch(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .expect("watch starts")
        .into_inner();
    let first = stream.message().await.expect("no error").expect("a status");
    assert_eq!(first.status, ServingStatus::ServiceUnknown as i32);
    // Open: nothing more comes, and in particular no end of stream.
    let next = tokio::time::timeout(Duration::from_millis(300), stream.message()).await;
    assert!(next.is_err(), "stream should stay open, got {next:?}");
    // Check keeps NOT_FOUND for it, as the protocol says.
    let status = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

/// gzip and zstd requests are accepted by the service, health and reflection; a
/// request that decompresses past the size limit is refused like an uncompressed one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_requests_are_accepted_everywhere() {
    let app = spawn_app(Backend::Sqlite).await;
    let channel = testkit::channel(app.server.addr).await;
    for (i, encoding) in [CompressionEncoding::Gzip, CompressionEncoding::Zstd]
        .into_iter()
        .enumerate()
    {
        let mut client = AuthServiceClient::new(channel.clone())
            .send_compressed(encoding)
            .accept_compressed(encoding);
        let pair =
            testkit::register_and_login(&mut client, &format!("packed{i}"), "a good long password").await;
        assert!(!pair.access_token.is_empty());

        let mut health = HealthClient::new(channel.clone())
            .send_compressed(encoding)
            .accept_compressed(encoding);
        health.check(HealthCheckRequest::default()).await.expect("health");

        let mut reflect =
            tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(channel.clone())
                .send_compressed(encoding)
                .accept_compressed(encoding);
        let request = tonic_reflection::pb::v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(reflection::symbol("auth.v1.AuthService")),
        };
        let mut answers = reflect
            .server_reflection_info(futures::stream::iter([request]))
            .await
            .expect("reflection")
            .into_inner();
        let answer = answers.message().await.expect("no error").expect("an answer");
        assert!(reflection::files(&answer).is_ok());

        // 64 KiB of one letter compresses to a few hundred bytes, under the 16 KiB limit
        // on the wire; it is the decompressed size that counts.
        let bomb = pb::RegisterRequest {
            username: "x".repeat(64 * 1024),
            password: "a good long password".into(),
            ..Default::default()
        };
        let status = client.register(bomb).await.unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    }
}

/// HTTP/1.1 that is not gRPC-Web gets a 415 saying what the port speaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http1_learns_what_the_port_speaks() {
    let app = spawn_app(Backend::Sqlite).await;
    for (method, content_type) in [
        (Method::GET, None),
        (Method::POST, Some("application/grpc")),
        (Method::POST, Some("application/json")),
    ] {
        let (status, headers, body) = web::plain(
            app.server.addr,
            method,
            "/auth.v1.AuthService/Login",
            content_type,
        )
        .await;
        assert_eq!(status, 415, "{content_type:?}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert!(
            body.contains("gRPC over HTTP/2") && body.contains("gRPC-Web") && body.ends_with('\n'),
            "{body:?}"
        );
    }
}
