//! Issue 10, item 9: the README's one command ran the todo-service without the
//! auth-service's URL, so a Logout or LogoutAll never reached it. The all-in-one binary
//! now wires its todo-service to its own auth-service's revocation feed.

use std::time::{Duration, Instant};

use testkit::bearer;
use todo_grpc_proto::{
    auth::v1 as authpb,
    todo::v1::{self as pb, todo_service_client::TodoServiceClient},
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_all_reaches_the_todo_service() {
    let data = tempfile::tempdir().unwrap();
    // Both on port 0: the ready lines say where (no port reserved ahead, no race).
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_all-in-one"))
        .env("AUTH_LISTEN_ADDR", "127.0.0.1:0")
        .env("TODO_LISTEN_ADDR", "127.0.0.1:0")
        .env("DATA_DIR", data.path())
        .env("RUST_LOG", "warn,common::server=info")
        .env_remove("JWT_SECRET")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut auth_addr, mut todo_addr) = (None, None);
    while auth_addr.is_none() || todo_addr.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("both services ready within 30 s")
            .unwrap()
            .expect("the all-in-one exited before it was ready");
        match testkit::ready_addr(&line) {
            Some(addr) if line.contains("auth-service ready") => auth_addr = Some(addr),
            Some(addr) if line.contains("todo-service ready") => todo_addr = Some(addr),
            _ => {}
        }
    }
    let (auth_addr, todo_addr) = (auth_addr.unwrap(), todo_addr.unwrap());
    // Keep reading, so the pipe never fills and blocks the service's log writer.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    testkit::wait_serving(auth_addr, "").await;
    testkit::wait_serving(todo_addr, "todo.v1.TodoService").await;

    let mut auth = testkit::auth_client(auth_addr).await;
    let mut todo = TodoServiceClient::new(testkit::channel(todo_addr).await);
    let pair = testkit::register_and_login(&mut auth, "local", "a local password here").await;
    let list = |token: &str| bearer(pb::ListTodosRequest::default(), token);
    // The feed is followed: wait until the todo-service takes the token (fallback or feed).
    let start = Instant::now();
    while todo.list_todos(list(&pair.access_token)).await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "token never accepted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    auth.logout_all(bearer(authpb::LogoutAllRequest {}, &pair.access_token))
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        match todo.list_todos(list(&pair.access_token)).await {
            Err(s) if s.code() == Code::Unauthenticated => break,
            _ => {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "LogoutAll did not reach the all-in-one's todo-service in 5 s"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
