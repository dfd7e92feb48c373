//! Faults: the process killed mid-write, the database going away and coming back.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use testkit::{Backend, ChildService, TcpProxy, TestDb, bearer, both_backends};
use todo_grpc_proto::todo::v1::{self as pb, todo_service_client::TodoServiceClient};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

both_backends!(acknowledged_writes_survive_sigkill);

pub fn token() -> String {
    let secret = token::JwtSecret::new(testkit::TEST_SECRET.as_bytes().to_vec()).unwrap();
    let tokens = token::AccessTokens::new(
        &secret,
        &[],
        token::TokenSettings {
            issuer: "todo-grpc-auth".into(),
            audience: "todo-grpc".into(),
            access_ttl: Duration::from_secs(600),
        },
    );
    tokens
        .issue(token::UserId::new(), "writer", token::SessionId::new())
        .unwrap()
        .token
}

async fn acknowledged_writes_survive_sigkill(backend: Backend) {
    let db = TestDb::new(backend).await;
    let env = [
        ("DATABASE_URL", db.url.clone()),
        ("JWT_SECRET", testkit::TEST_SECRET.to_owned()),
    ];
    let binary = env!("CARGO_BIN_EXE_todo-service");
    let service = ChildService::start(binary, &env).await;
    let token = token();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let acked = acked.clone();
            let token = token.clone();
            let addr = service.addr;
            tokio::spawn(async move {
                let mut client = TodoServiceClient::new(testkit::channel(addr).await);
                for i in 0.. {
                    let request = bearer(
                        pb::CreateTodoRequest {
                            title: format!("writer {w} item {i}"),
                            description: String::new(),
                        },
                        &token,
                    );
                    match client.create_todo(request).await {
                        Ok(todo) => acked.lock().unwrap().push(todo.into_inner().id),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    // Let the writes run, then kill the process without warning.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    service.signal("KILL");
    for writer in writers {
        writer.await.unwrap();
    }
    drop(service);
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 10, "only {} writes before the kill", acked.len());

    let restarted = ChildService::start(binary, &env).await;
    let mut client = TodoServiceClient::new(testkit::channel(restarted.addr).await);
    let mut stored = std::collections::HashSet::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_todos(bearer(
                pb::ListTodosRequest {
                    page_size: 1000,
                    page_token: page_token.clone(),
                    completed: None,
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        stored.extend(page.todos.into_iter().map(|t| t.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let lost: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {lost:?}",
        lost.len(),
        acked.len()
    );
    eprintln!(
        "{} acknowledged writes, all present after SIGKILL and restart",
        acked.len()
    );
}

/// PostgreSQL behind a proxy that is cut and restored: health follows, calls fail fast with
/// UNAVAILABLE, and the same process recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_reported_and_survived() {
    let Some(pg) = testkit::postgres_url() else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let proxy = TcpProxy::start(testkit::postgres_addr(&pg).await).await;
    let mut config = crate::helpers::todo_config(&db.url_via(proxy.addr));
    config.server.database_acquire_timeout = Duration::from_secs(1);
    let server = crate::helpers::spawn_todo(config).await;
    let mut client = TodoServiceClient::new(testkit::channel(server.addr).await);
    let token = token();
    let create = || {
        bearer(
            pb::CreateTodoRequest {
                title: "during an outage".into(),
                description: String::new(),
            },
            &token,
        )
    };
    client.create_todo(create()).await.unwrap();

    proxy.set_up(false);
    testkit::wait_health(server.addr, todo_service::SERVICE_NAME, ServingStatus::NotServing).await;
    let status = client.create_todo(create()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    proxy.set_up(true);
    testkit::wait_serving(server.addr, todo_service::SERVICE_NAME).await;
    client.create_todo(create()).await.unwrap();
}
