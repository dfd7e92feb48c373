//! Issue 17, item 2: traces across the pair. The services run as child processes (the
//! tracer is process-wide) exporting to an OTLP collector in this process.

use std::time::Duration;

use testkit::{Backend, ChildService, TestDb, bearer, otlp::Collector};
use todo_grpc_proto::{
    auth::v1::auth_service_client::AuthServiceClient,
    todo::v1::{self as pb, todo_service_client::TodoServiceClient},
};
use tokio::io::AsyncReadExt;

/// The caller's trace: a random trace id and span id, as a client would send them.
fn traceparent() -> (String, String, String) {
    let hex = |n: usize| -> String {
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .chars()
            .chain(uuid::Uuid::new_v4().simple().to_string().chars())
            .take(n)
            .collect()
    };
    let (trace, span) = (hex(32), hex(16));
    (format!("00-{trace}-{span}-01"), trace, span)
}

fn with_traceparent<T>(mut request: tonic::Request<T>, traceparent: &str) -> tonic::Request<T> {
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    request
}

/// Export settings: to `collector`, in batches sent every 100 ms.
fn otel_env(collector: &Collector) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
    ]
}

/// A login at an auth-service exporting traces, and the caller's trace is continued:
/// the service's span of the call is a child of the caller's span, and its database
/// spans are children of that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_traceparent_is_continued() {
    let collector = Collector::start().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let mut env = otel_env(&collector);
    // The SDK's own variables apply: the spans are named for this deployment.
    env.extend([
        ("DATABASE_URL", db.url.clone()),
        ("JWT_SECRET", testkit::TEST_SECRET.to_owned()),
        ("OTEL_SERVICE_NAME", "auth-eu-1".to_owned()),
    ]);
    let mut auth = ChildService::start_logging(&testkit::workspace_binary("auth-service"), &env).await;
    let mut client = AuthServiceClient::new(testkit::channel(auth.addr).await);
    let (header, trace_id, caller_span) = traceparent();
    client
        .register(with_traceparent(
            tonic::Request::new(todo_grpc_proto::auth::v1::RegisterRequest {
                username: "traced".into(),
                password: "a traced password".into(),
                email: String::new(),
            }),
            &header,
        ))
        .await
        .unwrap();
    // A caller's garbage is not a parent: a malformed or oversized traceparent (and one
    // with an all-zero trace id) starts a trace of its own, and the call goes on.
    for garbage in [
        "00-zz-yy-01".to_owned(),
        format!("00-{}-{}-01", "0".repeat(32), caller_span),
        format!("00-{trace_id}-{}-01", "f".repeat(4000)),
    ] {
        client
            .login(with_traceparent(
                tonic::Request::new(todo_grpc_proto::auth::v1::LoginRequest {
                    username: "traced".into(),
                    password: "a traced password".into(),
                }),
                &garbage,
            ))
            .await
            .expect("a bad traceparent does not fail the call");
    }
    let logins = |spans: &[testkit::otlp::Span]| {
        spans
            .iter()
            .filter(|s| s.name == "/auth.v1.AuthService/Login")
            .cloned()
            .collect::<Vec<_>>()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while logins(&collector.spans()).len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "{:#?}", collector.spans());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for login in logins(&collector.spans()) {
        assert!(login.parent_span_id.is_empty(), "a root span: {login:?}");
        assert_ne!(login.trace_id, trace_id, "not the caller's trace: {login:?}");
    }
    let trace = collector
        .wait_for_trace(&trace_id, Duration::from_secs(20), |spans| {
            let server = spans.iter().find(|s| s.parent_span_id == caller_span);
            server.is_some_and(|server| spans.iter().any(|s| s.parent_span_id == server.span_id))
        })
        .await;
    let server = trace.iter().find(|s| s.parent_span_id == caller_span).unwrap();
    assert_eq!(server.service, "auth-eu-1", "OTEL_SERVICE_NAME names the service");
    assert_eq!(server.name, "/auth.v1.AuthService/Register");
    assert_eq!(server.kind, "SPAN_KIND_SERVER", "{server:?}");
    assert!(
        trace
            .iter()
            .any(|s| s.parent_span_id == server.span_id && s.name == "create_user"),
        "the database call is a child span: {trace:#?}"
    );
    // The call's log line carries the trace id.
    auth.signal("TERM");
    let mut logs = String::new();
    tokio::time::timeout(Duration::from_secs(15), auth.logs().read_to_string(&mut logs))
        .await
        .expect("exits within the grace period")
        .unwrap();
    assert!(
        logs.lines()
            .any(|l| l.contains("rpc finished") && l.contains("Register") && l.contains(&trace_id)),
        "no log line with trace id {trace_id}:\n{logs}"
    );
}

/// A todo call that has to ask the auth-service (its feed refused, so every call falls
/// back to `VerifyToken`) makes one trace: the todo-service's span, its client span of
/// the `VerifyToken` call, and the auth-service's span of that call under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_todo_call_that_asks_the_auth_service_is_one_trace() {
    let collector = Collector::start().await;
    let (auth_db, todo_db) = (
        TestDb::new(Backend::Sqlite).await,
        TestDb::new(Backend::Sqlite).await,
    );
    let mut auth_env = otel_env(&collector);
    auth_env.extend([
        ("DATABASE_URL", auth_db.url.clone()),
        ("JWT_SECRET", testkit::TEST_SECRET.to_owned()),
    ]);
    let auth = ChildService::start(&testkit::workspace_binary("auth-service"), &auth_env).await;
    // The todo-service verifies the auth-service's tokens (a previous secret for it) but
    // signs its service token with a secret the auth-service does not know: the feed is
    // refused and stays silent, and every call asks VerifyToken, which is public.
    let mut todo_env = otel_env(&collector);
    todo_env.extend([
        ("DATABASE_URL", todo_db.url.clone()),
        (
            "JWT_SECRET",
            "a-secret-the-auth-service-does-not-know-0123456789".to_owned(),
        ),
        ("JWT_PREVIOUS_SECRETS", testkit::TEST_SECRET.to_owned()),
        ("AUTH_SERVICE_URL", format!("http://{}", auth.addr)),
    ]);
    let todo = ChildService::start(&testkit::workspace_binary("todo-service"), &todo_env).await;
    let mut auth_client = AuthServiceClient::new(testkit::channel(auth.addr).await);
    let pair = testkit::register_and_login(&mut auth_client, "both", "both services' password").await;
    let mut todo_client = TodoServiceClient::new(testkit::channel(todo.addr).await);
    let (header, trace_id, caller_span) = traceparent();
    todo_client
        .list_todos(with_traceparent(
            bearer(pb::ListTodosRequest::default(), &pair.access_token),
            &header,
        ))
        .await
        .expect("the fallback answers");
    let trace = collector
        .wait_for_trace(&trace_id, Duration::from_secs(20), |spans| {
            spans.iter().any(|s| s.name == "/auth.v1.AuthService/VerifyToken")
                && spans.iter().any(|s| s.name == "session_user")
                && spans.iter().any(|s| s.name == "list_while")
        })
        .await;
    let server = trace.iter().find(|s| s.parent_span_id == caller_span).unwrap();
    assert_eq!(
        (server.service.as_str(), server.name.as_str()),
        ("todo-service", "/todo.v1.TodoService/ListTodos")
    );
    let client = trace
        .iter()
        .find(|s| s.name == "auth.v1.AuthService/VerifyToken")
        .expect("the todo-service's client span of VerifyToken");
    assert_eq!(client.service, "todo-service");
    assert_eq!(client.parent_span_id, server.span_id);
    assert_eq!(
        (server.kind, client.kind),
        ("SPAN_KIND_SERVER", "SPAN_KIND_CLIENT")
    );
    let remote = trace
        .iter()
        .find(|s| s.service == "auth-service" && s.name == "/auth.v1.AuthService/VerifyToken")
        .expect("the auth-service's span of the call, in the same trace");
    assert_eq!(remote.parent_span_id, client.span_id, "{trace:#?}");
    assert!(
        trace.iter().any(|s| s.service == "auth-service"
            && s.name == "session_user"
            && s.parent_span_id == remote.span_id),
        "the auth-service's database span under its call: {trace:#?}"
    );
    assert!(
        trace.iter().any(|s| s.service == "todo-service"
            && s.name == "list_while"
            && s.parent_span_id == server.span_id),
        "{trace:#?}"
    );
}
