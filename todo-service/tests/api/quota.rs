//! Per-user bounds on creating todos, held by the database: across replicas, under
//! concurrency, and for users who had todos before the bounds existed.

use std::time::Duration;

use futures::StreamExt;
use testkit::{Backend, TestDb, bearer, both_backends};
use todo_grpc_proto::todo::v1::{self as pb, todo_service_client::TodoServiceClient};
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt;

use crate::helpers::{TestPair, User, spawn_pair_with, spawn_todo, todo_config};

both_backends!(
    quota_holds_across_replicas_under_concurrency,
    creation_rate_is_limited_across_replicas,
    existing_todos_count_after_migrating
);

fn create(
    client: &TodoServiceClient<Channel>,
    user: &User,
    title: String,
) -> impl Future<Output = Result<pb::Todo, Status>> {
    let mut client = client.clone();
    let request = bearer(
        pb::CreateTodoRequest {
            title,
            description: String::new(),
        },
        &user.token,
    );
    async move { client.create_todo(request).await.map(|r| r.into_inner()) }
}

async fn list_len(app: &mut TestPair, user: &User) -> usize {
    app.list_all(user, 1000, None).await.0.len()
}

/// Twice the quota of creates at once, through two replicas: exactly the quota succeed,
/// the rest are RESOURCE_EXHAUSTED; a delete frees room for exactly one more.
async fn quota_holds_across_replicas_under_concurrency(backend: Backend) {
    let quota = 20;
    let mut app = spawn_pair_with(backend, |c| {
        c.max_todos_per_user = quota;
        c.max_todo_creates_per_minute = 100_000;
    })
    .await;
    let (_replica, other) = app.replica().await;
    let judy = app.user("judy").await;
    let clients = [app.todo.clone(), other];
    let results: Vec<Result<pb::Todo, Status>> = futures::stream::iter(0..2 * quota as usize)
        .map(|i| create(&clients[i % 2], &judy, format!("todo {i}")))
        .buffer_unordered(16)
        .collect()
        .await;
    let created: Vec<pb::Todo> = results.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
    assert_eq!(created.len(), quota as usize, "{results:?}");
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
        assert!(refused.message().contains("at most 20 todos"), "{refused:?}");
    }
    assert_eq!(list_len(&mut app, &judy).await, quota as usize);

    // Another user has a quota of their own.
    let ken = app.user("ken").await;
    create(&clients[1], &ken, "mine".into()).await.unwrap();

    // Deleting frees quota, on either replica; a failed delete frees none.
    app.todo
        .delete_todo(bearer(
            pb::DeleteTodoRequest {
                id: created[0].id.clone(),
            },
            &judy.token,
        ))
        .await
        .unwrap();
    let again = app
        .todo
        .delete_todo(bearer(
            pb::DeleteTodoRequest {
                id: created[0].id.clone(),
            },
            &judy.token,
        ))
        .await;
    assert_eq!(again.unwrap_err().code(), Code::NotFound);
    create(&clients[1], &judy, "room again".into()).await.unwrap();
    let full = create(&clients[0], &judy, "no room".into()).await;
    assert_eq!(full.unwrap_err().code(), Code::ResourceExhausted);
    assert_eq!(list_len(&mut app, &judy).await, quota as usize);
}

/// Past the per-minute rate, creates are RESOURCE_EXHAUSTED with a RetryInfo, whichever
/// replica takes them; refused creates do not count.
async fn creation_rate_is_limited_across_replicas(backend: Backend) {
    let mut app = spawn_pair_with(backend, |c| c.max_todo_creates_per_minute = 5).await;
    let (_replica, other) = app.replica().await;
    let leo = app.user("leo").await;
    let clients = [app.todo.clone(), other];
    let results: Vec<Result<pb::Todo, Status>> = futures::stream::iter(0..12usize)
        .map(|i| create(&clients[i % 2], &leo, format!("todo {i}")))
        .buffer_unordered(6)
        .collect()
        .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5, "{results:?}");
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
        assert!(refused.message().contains("per minute"), "{refused:?}");
        let retry = refused
            .get_details_retry_info()
            .and_then(|info| info.retry_delay)
            .expect("a RetryInfo");
        // At 5 a minute the next slot is 12 s away, plus however much earlier this call
        // read the clock than the admitted ones it queued behind (milliseconds).
        assert!(
            retry > Duration::ZERO && retry <= Duration::from_secs(13),
            "{retry:?}"
        );
    }
    assert_eq!(list_len(&mut app, &leo).await, 5);
    // The limit is per user.
    let mia = app.user("mia").await;
    create(&clients[1], &mia, "mine".into()).await.unwrap();
}

/// A database with todos from before the quota table: the migration counts them, so the
/// quota holds for those users from the first create.
async fn existing_todos_count_after_migrating(backend: Backend) {
    let mut app = spawn_pair_with(backend, |_| {}).await;
    let nina = app.user("nina").await;
    let db = TestDb::new(backend).await;
    {
        sqlx::any::install_default_drivers();
        let pool = common::db::pool_options(&db.url, &Default::default())
            .connect(&format!(
                "{}{}",
                db.url,
                if db.url.starts_with("sqlite") {
                    "?mode=rwc"
                } else {
                    ""
                }
            ))
            .await
            .unwrap();
        // The schema as it was: only the first migration, from a folder of its own.
        let before = tempfile::tempdir().unwrap();
        let init = "20261128000001_init.sql";
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(init),
            before.path().join(init),
        )
        .unwrap();
        sqlx::migrate::Migrator::new(before.path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        for i in 0..3 {
            sqlx::query(
                "INSERT INTO todos (id, user_id, title, description, completed, create_time, update_time) \
                 VALUES ($1, $2, $3, '', FALSE, $4, $4)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&nina.id)
            .bind(format!("old {i}"))
            .bind(1_700_000_000_000_000i64 + i)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    }
    let mut config = todo_config(&db.url);
    config.max_todos_per_user = 4;
    let server = spawn_todo(config).await;
    let client = TodoServiceClient::new(testkit::channel(server.addr).await);
    create(&client, &nina, "fourth".into()).await.unwrap();
    let full = create(&client, &nina, "fifth".into()).await;
    assert_eq!(full.unwrap_err().code(), Code::ResourceExhausted);
}
