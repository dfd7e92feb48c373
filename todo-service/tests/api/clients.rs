//! What common gRPC clients rely on at the todo-service: reflection that reaches
//! `todo.v1.TodoService` through both versions, compression of large replies only, and a
//! deadline that passes during a call ending in `DEADLINE_EXCEEDED`.

use prost::Message as _;
use testkit::{Backend, TestDb, bearer, reflection};
use todo_grpc_proto::todo::v1::{self as pb, todo_service_client::TodoServiceClient};
use tonic::codec::CompressionEncoding;

use crate::helpers::{spawn_pair, spawn_todo, todo_config};

/// `buf curl --list-methods` and grpcurl walk from the list to each service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_reaches_the_todo_service_through_both_versions() {
    let app = spawn_pair(Backend::Sqlite).await;
    for version in reflection::VERSIONS {
        let listed = reflection::list(app.todo_server.addr, version).await;
        assert!(listed.contains(&"todo.v1.TodoService".to_owned()), "{listed:?}");
        reflection::assert_all_resolve(
            app.todo_server.addr,
            version,
            &["todo.v1.ListTodosResponse", "google.rpc.BadRequest"],
        )
        .await;
    }
}

/// With `grpc-accept-encoding: gzip`, a page of todos comes compressed and a single
/// short todo does not; the generated client reads both the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_replies_are_compressed_and_small_ones_are_not() {
    let mut app = spawn_pair(Backend::Sqlite).await;
    let user = app.user("squeeze").await;
    for i in 0..30 {
        app.create(&user, &format!("todo number {i}")).await;
    }
    let authorization = format!("Bearer {}", user.token);
    let headers = [
        ("authorization", authorization.as_str()),
        ("grpc-accept-encoding", "gzip"),
    ];
    let addr = app.todo_server.addr;

    let list = testkit::h2::unary(
        addr,
        "/todo.v1.TodoService/ListTodos",
        &pb::ListTodosRequest {
            page_size: 30,
            ..Default::default()
        },
        &headers,
    )
    .await;
    assert_eq!(list.grpc_status().as_deref(), Some("0"), "{list:?}");
    assert_eq!(list.headers["grpc-encoding"], "gzip");
    let frame = &list.frames[0];
    assert!(frame.compressed, "a 30-todo page should be compressed");
    let page: pb::ListTodosResponse = frame.decode();
    assert_eq!(page.todos.len(), 30);
    assert!(frame.payload.len() < pb::ListTodosResponse::encoded_len(&page));

    let created = testkit::h2::unary(
        addr,
        "/todo.v1.TodoService/CreateTodo",
        &pb::CreateTodoRequest {
            title: "short".into(),
            description: String::new(),
        },
        &headers,
    )
    .await;
    assert_eq!(created.grpc_status().as_deref(), Some("0"), "{created:?}");
    assert!(
        !created.frames[0].compressed,
        "a short todo is not worth compressing"
    );
    assert_eq!(created.frames[0].decode::<pb::Todo>().title, "short");

    let mut client = TodoServiceClient::new(testkit::channel(addr).await)
        .send_compressed(CompressionEncoding::Zstd)
        .accept_compressed(CompressionEncoding::Zstd);
    let page = client
        .list_todos(bearer(pb::ListTodosRequest::default(), &user.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.todos.len(), 31);
}

/// A write stuck behind a lock the test holds: the caller's deadline passes during the
/// call and it ends `DEADLINE_EXCEEDED` (tonic alone says `CANCELLED`). SQLite only:
/// holding its write lock is how to make a call wait without relying on timing. Raw
/// HTTP/2, since a tonic client enforces `grpc-timeout` itself and would answer first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_that_passes_during_a_call_is_deadline_exceeded() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = spawn_todo(todo_config(&db.url)).await;
    let authorization = format!("Bearer {}", crate::faults::token());
    let create = |timeout: &'static str| {
        let authorization = authorization.clone();
        let addr = server.addr;
        async move {
            let message = pb::CreateTodoRequest {
                title: "waits".into(),
                description: String::new(),
            };
            testkit::h2::unary(
                addr,
                "/todo.v1.TodoService/CreateTodo",
                &message,
                &[("authorization", &authorization), ("grpc-timeout", timeout)],
            )
            .await
        }
    };
    let response = create("1M").await;
    assert_eq!(response.grpc_status().as_deref(), Some("0"), "{response:?}");

    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut lock = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut lock).await.unwrap();
    // The service waits for the lock up to its busy timeout (seconds); the deadline is
    // a fifth of a second.
    let response = create("200m").await;
    assert_eq!(response.grpc_status().as_deref(), Some("4"), "{response:?}");
    sqlx::raw_sql("ROLLBACK").execute(&mut lock).await.unwrap();
    drop(lock);

    let response = create("1M").await;
    assert_eq!(response.grpc_status().as_deref(), Some("0"), "{response:?}");
}
