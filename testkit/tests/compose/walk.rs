//! What a client sees of the pair started with the compose environment: each check
//! the compose check made with grpcurl, curl and psql, through the generated clients.

use std::{net::SocketAddr, time::Duration};

use common::tls::ClientTls;
use testkit::{
    bearer,
    web::{self, Encoding},
};
use todo_grpc_proto::{
    auth::v1::{self as authpb, auth_service_client::AuthServiceClient},
    todo::v1::{self as pb, todo_service_client::TodoServiceClient},
};
use tokio::time::Instant;
use tonic::{Code, transport::Channel};
use tonic_health::pb::HealthCheckRequest;

use crate::{Running, healthcheck, plan::Local, plan::Plan};

/// How the test reaches the service ports: plaintext, or TLS with a client
/// certificate (docker-compose.tls.yml asks for one).
enum Conn {
    Plain,
    Tls(ClientTls),
}

impl Conn {
    async fn channel(&self, addr: SocketAddr) -> Channel {
        match self {
            Conn::Plain => testkit::channel(addr).await,
            Conn::Tls(tls) => testkit::tls::channel(addr, tls),
        }
    }

    /// A health check framed as gRPC-Web over HTTP/1.1: the HTTP and gRPC status.
    async fn web_health(&self, addr: SocketAddr) -> (u16, Option<String>) {
        let path = "/grpc.health.v1.Health/Check";
        let message = HealthCheckRequest::default();
        let response = match self {
            Conn::Plain => web::call(addr, path, &message, Encoding::Binary, &[]).await,
            Conn::Tls(tls) => web::call_tls(addr, path, &message, Encoding::Binary, tls)
                .await
                .expect("gRPC-Web over TLS"),
        };
        (response.http_status, response.grpc_status)
    }

    /// The `access-control-allow-origin` of a CORS preflight from `origin`.
    async fn allowed_origin(&self, addr: SocketAddr, origin: &str) -> Option<String> {
        let path = "/grpc.health.v1.Health/Check";
        let (_, headers) = match self {
            Conn::Plain => web::preflight(addr, path, origin).await,
            Conn::Tls(tls) => web::preflight_tls(addr, path, origin, tls)
                .await
                .expect("preflight over TLS"),
        };
        headers
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

fn find<'a>(running: &'a [Running], name: &str) -> &'a Running {
    running
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("{name} is not running"))
}

pub async fn walk(plan: &Plan, local: &Local, running: &[Running]) {
    let conn = match (&local.pki, &local.client) {
        (Some((pki, _)), client) => Conn::Tls(testkit::tls::client_tls(&pki.ca, client.as_ref())),
        (None, _) => Conn::Plain,
    };
    let (auth, todo) = (find(running, "auth-service"), find(running, "todo-service"));

    // The health check must also say no: a port that does not answer is not SERVING.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_addr = silent.local_addr().expect("addr").to_string();
    let auth_plan = plan.service("auth-service");
    assert!(
        !healthcheck(
            &auth_plan.binary,
            &["healthcheck".into(), "--addr".into(), silent_addr],
            &auth.env
        )
        .await,
        "the healthcheck command reports a port that does not answer as healthy"
    );
    drop(silent);
    println!("ok   healthcheck exits non-zero when nothing serves");

    let mut users = AuthServiceClient::new(conn.channel(auth.child.addr).await);
    let mut todos = TodoServiceClient::new(conn.channel(todo.child.addr).await);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (username, password) = (
        format!("compose_{}", &suffix[..8]),
        format!("correct horse {}", &suffix[8..20]),
    );
    let login = authpb::LoginRequest {
        username: username.clone(),
        password: password.clone(),
    };

    let user = users
        .register(authpb::RegisterRequest {
            username: username.clone(),
            password: password.clone(),
            ..Default::default()
        })
        .await
        .expect("Register")
        .into_inner()
        .user
        .expect("Register returns the user");
    assert_eq!(user.username, username);
    assert!(!user.id.is_empty(), "Register returns the user's id");
    println!("ok   Register at auth-service ({})", auth.child.addr);

    let pair = users.login(login.clone()).await.expect("Login").into_inner();
    assert_eq!(pair.token_type, "Bearer");
    assert!(!pair.access_token.is_empty() && !pair.refresh_token.is_empty());
    println!("ok   Login returns a Bearer access token and a refresh token");
    let token = pair.access_token;

    let me = users
        .get_me(bearer(authpb::GetMeRequest::default(), &token))
        .await
        .expect("GetMe")
        .into_inner();
    assert_eq!(me.username, username);
    println!("ok   GetMe with the access token");

    let created = todos
        .create_todo(bearer(
            pb::CreateTodoRequest {
                title: "buy milk".into(),
                description: "two litres".into(),
            },
            &token,
        ))
        .await
        .expect("CreateTodo with the auth-service's token")
        .into_inner();
    assert_eq!(created.title, "buy milk");
    println!(
        "ok   CreateTodo at todo-service ({}) with the auth-service token",
        todo.child.addr
    );

    let list = |token: &str| {
        bearer(
            pb::ListTodosRequest {
                page_size: 10,
                ..Default::default()
            },
            token,
        )
    };
    let page = todos
        .list_todos(list(&token))
        .await
        .expect("ListTodos")
        .into_inner();
    assert_eq!(page.todos.len(), 1);
    assert_eq!(page.todos[0].id, created.id);
    assert_eq!(page.todos[0].description, "two litres");
    println!("ok   ListTodos returns the new todo");

    let anonymous = todos
        .list_todos(pb::ListTodosRequest {
            page_size: 10,
            ..Default::default()
        })
        .await;
    assert_eq!(
        anonymous.map(|_| ()).map_err(|s| s.code()),
        Err(Code::Unauthenticated),
        "ListTodos without a token"
    );
    println!("ok   ListTodos without a token is UNAUTHENTICATED");

    rows_in_postgres(plan, local).await;

    for service in [auth, todo] {
        let (http, grpc) = conn.web_health(service.child.addr).await;
        assert_eq!(
            (http, grpc.as_deref()),
            (200, Some("0")),
            "{} gRPC-Web",
            service.name
        );
        println!(
            "ok   {} answers gRPC-Web (HTTP/1.1) on the gRPC port",
            service.name
        );
    }

    let origins = auth.var("CORS_ALLOWED_ORIGINS").unwrap_or_default();
    match origins.split(',').map(str::trim).find(|o| !o.is_empty()) {
        Some(origin) => {
            for service in [auth, todo] {
                let allowed = conn.allowed_origin(service.child.addr, origin).await;
                assert_eq!(
                    allowed.as_deref(),
                    Some(origin),
                    "{} CORS preflight",
                    service.name
                );
                println!(
                    "ok   {} allows the CORS origin from .env.example ({origin})",
                    service.name
                );
            }
        }
        None => println!("skip CORS: .env.example allows no origin"),
    }

    if todo.var("AUTH_SERVICE_URL").is_some() {
        revocation(&mut users, &mut todos, &token, login).await;
    } else {
        println!("skip revocation: todo-service has no AUTH_SERVICE_URL in the compose file");
    }

    for service in running {
        let Some(addr) = service.child.metrics_addr else {
            println!("skip {}: METRICS_ADDR not set in the compose file", service.name);
            continue;
        };
        let (status, body) = web::get(addr, "/metrics").await;
        assert_eq!(status, 200, "{} /metrics", service.name);
        assert!(
            body.contains("# TYPE "),
            "{} /metrics is not Prometheus text",
            service.name
        );
        let counted = body
            .lines()
            .filter(|l| l.starts_with("grpc_server_handled_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .any(|n| n >= 1.0);
        assert!(
            counted,
            "{}: the calls above are not in grpc_server_handled_total",
            service.name
        );
        println!(
            "ok   {} serves Prometheus metrics at METRICS_ADDR, the calls above counted",
            service.name
        );
    }

    for service in running {
        let stray: Vec<_> = std::fs::read_dir(service.dir.path())
            .expect("read the run directory")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            stray.is_empty(),
            "{} wrote {stray:?} in its working directory",
            service.name
        );
    }
    println!("ok   nothing written to the working directories");
}

/// The rows are in the fresh databases: each service used the DATABASE_URL it was given.
async fn rows_in_postgres(plan: &Plan, local: &Local) {
    sqlx::any::install_default_drivers();
    for (service, table) in [("auth-service", "users"), ("todo-service", "todos")] {
        let db = &plan.service(service).databases["DATABASE_URL"];
        let url = &local.databases[db].url;
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
        let (count,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("count {table} in {db}: {e}"));
        assert_eq!(count, 1, "{table} in the fresh {db} database");
        println!("ok   the {service}'s row is in the fresh {db} database ({url})");
    }
}

/// LogoutAll at the auth-service reaches the todo-service through AUTH_SERVICE_URL (the
/// contract says within 5 s; 8 allowed here, as on a loaded machine), and a new login
/// works there at once.
async fn revocation(
    users: &mut AuthServiceClient<Channel>,
    todos: &mut TodoServiceClient<Channel>,
    token: &str,
    login: authpb::LoginRequest,
) {
    users
        .logout_all(bearer(authpb::LogoutAllRequest::default(), token))
        .await
        .expect("LogoutAll");
    println!("ok   LogoutAll");
    let list = |token: &str| bearer(pb::ListTodosRequest::default(), token);
    let start = Instant::now();
    loop {
        match todos.list_todos(list(token)).await {
            Err(s) if s.code() == Code::Unauthenticated => break,
            other => assert!(
                start.elapsed() < Duration::from_secs(8),
                "todo-service still accepts the token 8 s after LogoutAll: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "ok   todo-service refuses the revoked token within {:.1?} (AUTH_SERVICE_URL)",
        start.elapsed()
    );
    let fresh = users
        .login(login)
        .await
        .expect("Login after LogoutAll")
        .into_inner();
    let page = todos
        .list_todos(list(&fresh.access_token))
        .await
        .expect("ListTodos with a new login after LogoutAll")
        .into_inner();
    assert_eq!(page.todos.len(), 1);
    println!("ok   a new login right after LogoutAll works at todo-service");
}
