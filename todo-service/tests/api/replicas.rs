//! Two auth-service and two todo-service replicas on one PostgreSQL: everything shared
//! (users, sessions, rotation, throttling, revocation, todos) is shared through it.

use std::time::{Duration, Instant};

use testkit::{Backend, Running, TestDb, bearer};
use todo_grpc_proto::{
    auth::v1::{self as authpb, auth_service_client::AuthServiceClient},
    todo::v1::{self as pb, todo_service_client::TodoServiceClient},
};
use tonic::{Code, transport::Channel};

use crate::helpers::{spawn_todo, todo_config};

/// Two auth-service replicas on one PostgreSQL database and two todo-service replicas
/// on another, each todo replica following its own auth replica's feed.
struct Replicas {
    auth: Vec<Running>,
    todo: Vec<Running>,
    /// (auth, todo): kept so the databases outlive the servers.
    dbs: (TestDb, TestDb),
}

impl Replicas {
    /// `None` (the test is skipped, and says so) without TEST_POSTGRES_URL.
    async fn start() -> Option<Self> {
        if testkit::postgres_url().is_none() {
            eprintln!("skipped: TEST_POSTGRES_URL is not set (replicas need a shared PostgreSQL)");
            return None;
        }
        let auth_db = TestDb::new(Backend::Postgres).await;
        let todo_db = TestDb::new(Backend::Postgres).await;
        let mut auth = Vec::new();
        let mut todo = Vec::new();
        for _ in 0..2 {
            let server = testkit::spawn_auth(testkit::auth_config(&auth_db.url)).await;
            let mut config = todo_config(&todo_db.url);
            config.auth_service_url = Some(server.url());
            todo.push(spawn_todo(config).await);
            auth.push(server);
        }
        Some(Self {
            auth,
            todo,
            dbs: (auth_db, todo_db),
        })
    }

    async fn auth(&self, i: usize) -> AuthServiceClient<Channel> {
        testkit::auth_client(self.auth[i].addr).await
    }

    async fn todo(&self, i: usize) -> TodoServiceClient<Channel> {
        TodoServiceClient::new(testkit::channel(self.todo[i].addr).await)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_everything_through_the_database() {
    let Some(replicas) = Replicas::start().await else {
        return;
    };
    let (mut a, mut b) = (replicas.auth(0).await, replicas.auth(1).await);
    let mut todo_a = replicas.todo(0).await;
    let mut todo_b = replicas.todo(1).await;
    let login = |name: &str| authpb::LoginRequest {
        username: name.into(),
        password: "replicated password".into(),
    };
    let refresh = |token: &str| authpb::RefreshRequest {
        refresh_token: token.into(),
    };

    // Registered on one, logs in on the other; a todo written through one is read through the other.
    a.register(authpb::RegisterRequest {
        username: "wanda".into(),
        password: "replicated password".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let pair = b.login(login("wanda")).await.unwrap().into_inner();
    let todo = todo_a
        .create_todo(bearer(
            pb::CreateTodoRequest {
                title: "shared".into(),
                description: String::new(),
            },
            &pair.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let got = todo_b
        .get_todo(bearer(
            pb::GetTodoRequest { id: todo.id.clone() },
            &pair.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, todo);

    // Rotated on A; the old token presented on B is refused and revokes the family.
    let rotated = a
        .refresh(refresh(&pair.refresh_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        b.refresh(refresh(&pair.refresh_token)).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(
        a.refresh(refresh(&rotated.refresh_token))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    // Concurrent refreshes of one token on different replicas: exactly one goes through.
    for round in 0..3 {
        let pair = a.login(login("wanda")).await.unwrap().into_inner();
        let calls = (0..8).map(|i| {
            let mut client = if i % 2 == 0 { a.clone() } else { b.clone() };
            let token = pair.refresh_token.clone();
            tokio::spawn(async move {
                client
                    .refresh(authpb::RefreshRequest { refresh_token: token })
                    .await
            })
        });
        let ok = futures::future::join_all(calls)
            .await
            .into_iter()
            .filter(|r| r.as_ref().is_ok_and(|r| r.is_ok()))
            .count();
        assert_eq!(
            ok, 1,
            "round {round}: {ok} of 8 refreshes across replicas succeeded"
        );
    }

    // A session for the LogoutAll below (the rounds above ended theirs by reuse).
    let pair = a.login(login("wanda")).await.unwrap().into_inner();

    // Failed logins counted on both replicas lock the name on both.
    for i in 0..5 {
        let client = if i % 2 == 0 { &mut a } else { &mut b };
        let _ = client
            .login(authpb::LoginRequest {
                username: "wanda".into(),
                password: "wrong guess".into(),
            })
            .await;
    }
    for client in [&mut a, &mut b] {
        assert_eq!(
            client.login(login("wanda")).await.unwrap_err().code(),
            Code::ResourceExhausted
        );
    }

    // LogoutAll on A reaches the todo-service that follows B, through the database.
    let token = pair.access_token.clone();
    a.logout_all(bearer(authpb::LogoutAllRequest {}, &token))
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        match todo_b
            .list_todos(bearer(pb::ListTodosRequest::default(), &token))
            .await
        {
            Err(s) if s.code() == Code::Unauthenticated => break,
            _ if start.elapsed() > Duration::from_secs(5) => {
                panic!("revocation did not cross replicas in 5 s")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    eprintln!(
        "LogoutAll on replica A refused at todo replica B after {:?}",
        start.elapsed()
    );
}

/// Issue 14, across replicas: a session ended on one auth replica is refused at every
/// todo replica, and a deletion on one reaches every todo replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_deletions_cross_replicas() {
    let Some(replicas) = Replicas::start().await else {
        return;
    };
    let mut todos = vec![replicas.todo(0).await, replicas.todo(1).await];
    let (mut a, mut b) = (replicas.auth(0).await, replicas.auth(1).await);
    let keep = testkit::register_and_login(&mut a, "xena", "replicated password").await;
    let end = b
        .login(authpb::LoginRequest {
            username: "xena".into(),
            password: "replicated password".into(),
        })
        .await
        .unwrap()
        .into_inner();
    for todo in &mut todos {
        todo.create_todo(bearer(
            pb::CreateTodoRequest {
                title: "replicated".into(),
                description: String::new(),
            },
            &keep.access_token,
        ))
        .await
        .unwrap();
    }
    let sid = testkit::jwt_claims(&end.access_token)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    b.revoke_session(bearer(
        authpb::RevokeSessionRequest { session_id: sid },
        &keep.access_token,
    ))
    .await
    .unwrap();
    let refused_everywhere = |token: String, todos: Vec<TodoServiceClient<tonic::transport::Channel>>| async move {
        let start = Instant::now();
        for mut todo in todos {
            loop {
                match todo
                    .list_todos(bearer(pb::ListTodosRequest::default(), &token))
                    .await
                {
                    Err(s) if s.code() == Code::Unauthenticated => break,
                    _ if start.elapsed() > Duration::from_secs(5) => {
                        panic!("not refused at every replica in 5 s")
                    }
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
        start.elapsed()
    };
    let took = refused_everywhere(end.access_token.clone(), todos.clone()).await;
    eprintln!("RevokeSession on replica B refused at both todo replicas after {took:?}");
    for todo in &mut todos {
        todo.list_todos(bearer(pb::ListTodosRequest::default(), &keep.access_token))
            .await
            .expect("the other session goes on at every replica");
    }

    a.delete_account(bearer(
        authpb::DeleteAccountRequest {
            password: "replicated password".into(),
        },
        &keep.access_token,
    ))
    .await
    .unwrap();
    let took = refused_everywhere(keep.access_token.clone(), todos.clone()).await;
    eprintln!("DeleteAccount on replica A refused at both todo replicas after {took:?}");
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&replicas.dbs.1.url).await.unwrap();
    let start = Instant::now();
    loop {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM todos")
            .fetch_one(&db)
            .await
            .unwrap();
        let n: i64 = sqlx::Row::get(&row, "n");
        if n == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{n} todos of a deleted account left"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
