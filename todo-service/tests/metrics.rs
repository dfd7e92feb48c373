//! Exact metric counts, in a test binary of their own: the Prometheus recorder is global
//! to a process, and the api tests' servers, running beside one another, all count into
//! it, so a count there can include another test's calls.

use testkit::{Backend, TestDb, web};
use todo_grpc_proto::todo::v1::{self as pb, todo_service_client::TodoServiceClient};
use tonic::Code;

/// The value of the one series `name{labels}` in a scrape (0 when absent).
fn series(text: &str, name: &str, labels: &str) -> u64 {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}: not a count: {v}"))
    })
}

/// Many calls at once, ending in different codes, are each counted once under their own
/// method and code, in the counter and in the histogram: the metric handles are looked up
/// once per method and code and then shared by every call, first calls racing included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_are_each_counted_once_under_their_code() {
    let auth_db = TestDb::new(Backend::Sqlite).await;
    let todo_db = TestDb::new(Backend::Sqlite).await;
    let auth_server = testkit::spawn_auth(testkit::auth_config(&auth_db.url)).await;
    let mut config = testkit::todo_config(&todo_db.url);
    config.auth_service_url = Some(auth_server.url());
    config.server.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    let todo_server = testkit::spawn_todo(config).await;
    let metrics = todo_server.metrics_addr.expect("METRICS_ADDR is on");
    let mut auth = testkit::auth_client(auth_server.addr).await;
    let token = testkit::register_and_login(&mut auth, "counted", "a good long password")
        .await
        .access_token;
    let mut todo = TodoServiceClient::new(testkit::channel(todo_server.addr).await);
    let id = todo
        .create_todo(testkit::bearer(
            pb::CreateTodoRequest {
                title: "read many times".into(),
                description: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .id;

    const TASKS: u64 = 16;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let mut client = todo.clone();
        let (token, id) = (token.clone(), id.clone());
        tasks.spawn(async move {
            for _ in 0..6 {
                let got = client
                    .get_todo(testkit::bearer(pb::GetTodoRequest { id: id.clone() }, &token))
                    .await;
                assert_eq!(got.map(|r| r.into_inner().id).ok(), Some(id.clone()));
            }
            for _ in 0..3 {
                let missing = uuid::Uuid::new_v4().to_string();
                let status = client
                    .get_todo(testkit::bearer(pb::GetTodoRequest { id: missing }, &token))
                    .await
                    .unwrap_err();
                assert_eq!(status.code(), Code::NotFound);
            }
            for _ in 0..2 {
                let status = client
                    .get_todo(tonic::Request::new(pb::GetTodoRequest { id: id.clone() }))
                    .await
                    .unwrap_err();
                assert_eq!(status.code(), Code::Unauthenticated);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }

    let (status, text) = web::get(metrics, "/metrics").await;
    assert_eq!(status, 200);
    for (code, calls) in [
        ("OK", 6 * TASKS),
        ("NOT_FOUND", 3 * TASKS),
        ("UNAUTHENTICATED", 2 * TASKS),
    ] {
        let labels = format!(r#"service="todo.v1.TodoService",method="GetTodo",code="{code}""#);
        assert_eq!(
            series(&text, "grpc_server_handled_total", &labels),
            calls,
            "{code} in:\n{text}"
        );
        assert_eq!(
            series(&text, "grpc_server_handling_seconds_count", &labels),
            calls,
            "{code} in:\n{text}"
        );
    }
}
