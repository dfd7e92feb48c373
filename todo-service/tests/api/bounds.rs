//! What a caller cannot make the server hold: metric series per invented path, HTTP/2
//! streams past the bound.

use std::collections::HashSet;

use testkit::{
    Backend, TestDb,
    h2raw::{self, RawH2},
    web::{self, Encoding},
};
use tonic::Code;

use crate::helpers::{spawn_pair_with, spawn_todo, todo_config};

/// The `service` and `method` label values of every gRPC series in a scrape.
fn labelled(text: &str) -> HashSet<(String, String)> {
    let label = |line: &str, name: &str| {
        let start = line.find(&format!("{name}=\""))? + name.len() + 2;
        let end = line[start..].find('"')? + start;
        Some(line[start..end].to_owned())
    };
    text.lines()
        .filter(|l| l.starts_with("grpc_server_handl"))
        .filter_map(|l| Some((label(l, "service")?, label(l, "method")?)))
        .collect()
}

/// Hundreds of junk paths, over gRPC, gRPC-Web and raw HTTP/2, add no series: they are
/// all counted as `unknown`, while served methods keep their names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_name_only_served_methods() {
    let mut app = spawn_pair_with(Backend::Sqlite, |c| {
        c.server.metrics_addr = Some("127.0.0.1:0".parse().unwrap())
    })
    .await;
    let metrics = app.todo_server.metrics_addr.expect("METRICS_ADDR is on");
    let user = app.user("metered").await;
    app.create(&user, "counted").await;
    let addr = app.todo_server.addr;

    let mut grpc = tonic::client::Grpc::new(testkit::channel(addr).await);
    for i in 0..150 {
        let path = if i % 2 == 0 {
            format!("/junk{i}.Service/Method{i}")
        } else {
            format!("/todo.v1.TodoService/Junk{i}")
        };
        grpc.ready().await.unwrap();
        let status = grpc
            .unary(
                tonic::Request::new(()),
                path.parse().unwrap(),
                tonic_prost::ProstCodec::<(), ()>::default(),
            )
            .await
            .unwrap_err();
        // A junk method of the todo service meets the interceptor first.
        assert!(
            matches!(status.code(), Code::Unimplemented | Code::Unauthenticated),
            "{path}: {status:?}"
        );
    }
    for i in 0..100 {
        let r = web::call_bytes(addr, &format!("/webjunk{i}/x{i}"), vec![], Encoding::Binary, &[]).await;
        assert_eq!(r.grpc_status.as_deref(), Some("12"), "{r:?}");
    }
    let mut raw = RawH2::connect(addr).await;
    for i in 0..100u32 {
        raw.open_grpc(1 + 2 * i, &format!("/rawjunk{i}/m")).await;
    }
    let mut answered = HashSet::new();
    while answered.len() < 100 {
        let frame = raw.read_frame().await.expect("an answer to each raw call");
        if frame.kind == h2raw::HEADERS {
            answered.insert(frame.stream);
        }
    }

    let (status, text) = web::get(metrics, "/metrics").await;
    assert_eq!(status, 200);
    assert!(!text.contains("junk"), "a junk path became a label:\n{text}");
    let served = [
        "auth.v1.AuthService",
        "todo.v1.TodoService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ];
    let labels = labelled(&text);
    for (service, method) in &labels {
        assert!(
            (service == "unknown" && method == "unknown") || served.contains(&service.as_str()),
            "unexpected series {service}/{method}"
        );
    }
    for needle in [
        r#"grpc_server_handled_total{service="unknown",method="unknown",code="UNIMPLEMENTED"}"#,
        r#"grpc_server_handled_total{service="todo.v1.TodoService",method="CreateTodo",code="OK"}"#,
        r#"grpc_server_handled_total{service="grpc.health.v1.Health",method="Check",code="OK"}"#,
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

/// The server advertises its stream bound and the flow-control windows in SETTINGS,
/// and refuses streams past the bound (REFUSED_STREAM), however the client behaves;
/// the streams within it are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_past_the_bound_are_refused() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut config = todo_config(&db.url);
    config.server.max_concurrent_streams = 8;
    let server = spawn_todo(config).await;
    let mut raw = RawH2::connect(server.addr).await;
    assert_eq!(
        raw.settings.get(&h2raw::SETTINGS_MAX_CONCURRENT_STREAMS),
        Some(&8),
        "{:?}",
        raw.settings
    );
    assert_eq!(
        raw.settings.get(&h2raw::SETTINGS_INITIAL_WINDOW_SIZE),
        Some(&common::server::HTTP2_STREAM_WINDOW)
    );
    assert_eq!(
        raw.settings.get(&h2raw::SETTINGS_MAX_HEADER_LIST_SIZE),
        Some(&common::server::HTTP2_MAX_HEADER_LIST)
    );

    // Twelve streams whose requests never end: the first eight stay open, waiting.
    let ids: Vec<u32> = (0..12).map(|i| 1 + 2 * i).collect();
    for &id in &ids {
        raw.open_grpc(id, "/grpc.health.v1.Health/Check").await;
    }
    let mut refused = Vec::new();
    while refused.len() < 4 {
        let frame = raw
            .read_frame()
            .await
            .expect("the server refuses the streams past the bound");
        if frame.kind == h2raw::RST_STREAM {
            assert_eq!(frame.error_code(), Some(h2raw::REFUSED_STREAM), "{frame:?}");
            refused.push(frame.stream);
        }
        assert_ne!(frame.kind, h2raw::GOAWAY, "{frame:?}");
    }
    assert_eq!(refused, ids[8..]);

    // An accepted stream is still served once its request ends.
    raw.finish_grpc(ids[0], &[]).await;
    loop {
        let frame = raw.read_frame().await.expect("an answer on the first stream");
        assert!(
            frame.kind != h2raw::RST_STREAM || frame.stream != ids[0],
            "{frame:?}"
        );
        if frame.kind == h2raw::HEADERS && frame.stream == ids[0] {
            break;
        }
    }
}

/// Both services take the same default bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_stream_bound_is_advertised() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = spawn_todo(todo_config(&db.url)).await;
    let raw = RawH2::connect(server.addr).await;
    assert_eq!(
        raw.settings.get(&h2raw::SETTINGS_MAX_CONCURRENT_STREAMS),
        Some(&common::config::DEFAULT_MAX_CONCURRENT_STREAMS)
    );
}
