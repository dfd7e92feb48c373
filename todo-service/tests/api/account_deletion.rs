//! Issue 14: a deleted account's todos are deleted and its tokens refused at the
//! todo-service within 5 s, also when the todo-service was down at the time; the name
//! registered again sees nothing of the old account.

use std::time::{Duration, Instant};

use testkit::{Backend, bearer, both_backends};
use todo_grpc_proto::{
    auth::v1 as authpb,
    todo::v1::{self as pb, todo_service_client::TodoServiceClient},
};
use tonic::Code;

use crate::helpers::{spawn_pair, spawn_todo, todo_config};

both_backends!(
    a_deleted_accounts_todos_go_and_its_tokens_are_refused,
    a_deletion_made_while_the_todo_service_was_down_is_applied
);

const PASSWORD: &str = "a good long password";

async fn todos_of(url: &str, user_id: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(url).await.unwrap();
    let row = sqlx::query("SELECT COUNT(*) AS n FROM todos WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&db)
        .await
        .unwrap();
    sqlx::Row::get(&row, "n")
}

/// Polls until `token` is refused at `todo` and `user_id` has no todos in `url` (5 s).
async fn gone_within_5s(
    todo: &mut TodoServiceClient<tonic::transport::Channel>,
    token: &str,
    url: &str,
    user_id: &str,
) -> Duration {
    let start = Instant::now();
    loop {
        let refused = matches!(
            todo.list_todos(bearer(pb::ListTodosRequest::default(), token)).await,
            Err(s) if s.code() == Code::Unauthenticated
        );
        if refused && todos_of(url, user_id).await == 0 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "deletion not applied within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_deleted_accounts_todos_go_and_its_tokens_are_refused(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let gone = app.user("gone").await;
    let stays = app.user("stays").await;
    for title in ["one", "two", "three"] {
        app.create(&gone, title).await;
    }
    app.create(&stays, "not touched").await;
    app.auth
        .delete_account(bearer(
            authpb::DeleteAccountRequest {
                password: PASSWORD.into(),
            },
            &gone.token,
        ))
        .await
        .unwrap();
    let url = app.todo_db_url();
    let took = gone_within_5s(&mut app.todo, &gone.token, &url, &gone.id).await;
    eprintln!("deletion applied at the todo-service after {took:?}");
    assert_eq!(todos_of(&url, &stays.id).await, 1, "another user's todos stay");

    // The name again: a new account, an empty list.
    let again = app.user("gone").await;
    assert_ne!(again.id, gone.id);
    let (todos, _) = app.list_all(&again, 10, None).await;
    assert!(todos.is_empty(), "{todos:?}");
}

async fn a_deletion_made_while_the_todo_service_was_down_is_applied(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let gone = app.user("absent").await;
    app.create(&gone, "left behind").await;
    let auth_url = format!("http://{}", app.auth_addr);
    let url = app.todo_db_url();
    let mut auth = app.auth.clone();
    let parts = app.into_parts();
    parts.todo_server.stop().await;

    auth.delete_account(bearer(
        authpb::DeleteAccountRequest {
            password: PASSWORD.into(),
        },
        &gone.token,
    ))
    .await
    .unwrap();
    // Other revocations pass meanwhile; the deletion is still in the next first message.
    let other = testkit::register_and_login(&mut auth, "bystander", PASSWORD).await;
    auth.logout_all(bearer(authpb::LogoutAllRequest {}, &other.access_token))
        .await
        .unwrap();
    assert_eq!(
        todos_of(&url, &gone.id).await,
        1,
        "nothing can delete them while it is down"
    );

    let mut config = todo_config(&url);
    config.auth_service_url = Some(auth_url);
    let restarted = spawn_todo(config).await;
    let mut todo = TodoServiceClient::new(testkit::channel(restarted.addr).await);
    let took = gone_within_5s(&mut todo, &gone.token, &url, &gone.id).await;
    eprintln!("deletion applied {took:?} after the todo-service came back");
    drop(parts.auth_server);
}
