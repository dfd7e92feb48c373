//! What each section of the suite measures: the floor comparison, gRPC-Web, writes,
//! the sqlx pool, the login flood and ListTodos by table size.

use std::time::Instant;

use todo_grpc_proto::auth::v1::{self as authpb, auth_service_client::AuthServiceClient};
use todo_service::{
    domain::{CreateLimits, Description, Title},
    store::Store,
};
use token::UserId;
use tonic::metadata::{Ascii, MetadataValue};

use crate::{
    DESCRIPTION, Res, TITLE, argon2_bound,
    callers::{LoginCall, PoolCall, ReadPath, Rpc, Target, TodoCall, connect, status_text},
    drive::{Caller, closed_loop},
    err, postgres, procs,
    procs::Proc,
    report::{ECHO_AUTH, ECHO_SHELL, FLOOR, LoginFigures, TODO_PG, TODO_SQLITE},
    stats::Summary,
    suite::{Cell, Suite, progress, seed},
};

impl Suite {
    /// The sections `--only` names, in the order their figures depend on.
    pub async fn sections(&mut self) -> Res<()> {
        // The main todo-service on SQLite, seeded with one user's 25 todos.
        let user = UserId::new();
        let auth = self.bearer(user)?;
        if self.on("login") {
            // First, while nothing else of ours runs.
            self.report.login = Some(LoginFigures::new(argon2_bound::measure()?));
        }
        let need_main = ["floor", "web", "create", "login", "pool"]
            .iter()
            .any(|s| self.on(s));
        let mut main = None;
        let mut todo_id = String::new();
        if need_main {
            let db = format!("sqlite://{}", self.dir.join("todo.db").display());
            let (p, idle) = self.start_service("todo-service", "todo-sqlite", &db).await?;
            todo_id = seed(p.addr, &auth, 25).await?;
            main = Some((p, idle));
        }
        if let Some((p, _)) = &main {
            if self.on("floor") {
                self.floor(p, &auth, &todo_id, user).await?;
            }
            if self.on("web") {
                self.web(p, &auth, &todo_id, user).await?;
            }
            if self.on("create") {
                self.create(p, &auth).await?;
            }
            if self.on("pool") {
                self.pool(&todo_id, user).await?;
            }
            if self.on("login") {
                self.login(p, &auth, &todo_id).await?;
            }
        }
        if let Some((p, idle)) = main.take() {
            self.record_memory("todo-service, SQLite (all sections above)", &p, idle);
        }
        if self.on("list") {
            self.list().await?;
        }
        Ok(())
    }

    /// GetTodo and ListTodos against the echo floor, the echo behind the interceptor and
    /// inside the server shell, and the real service.
    async fn floor(&mut self, todo: &Proc, auth: &MetadataValue<Ascii>, id: &str, user: UserId) -> Res<()> {
        let bare = self.start_echo("bare", user).await?;
        let bare_idle = bare.status_mib("VmRSS").unwrap_or(f64::NAN);
        let with_auth = self.start_echo("auth", user).await?;
        let shell = self.start_echo("shell", user).await?;
        let calls = [
            ("get", "GetTodo", Rpc::Get(id.into())),
            ("list", "ListTodos(20)", Rpc::List(20)),
        ];
        let wanted = self.options.floor_calls.clone();
        for (_, what, rpc) in calls
            .into_iter()
            .filter(|(k, _, _)| wanted.iter().any(|c| c == k))
        {
            for c in self.options.concurrency.clone() {
                let cells = [
                    (FLOOR, &bare),
                    (ECHO_AUTH, &with_auth),
                    (ECHO_SHELL, &shell),
                    (TODO_SQLITE, todo),
                ]
                .into_iter()
                .map(|(label, p)| Cell::grpc("floor", label, what, c, p, auth, rpc.clone()))
                .collect();
                self.cells(cells).await?;
            }
        }
        self.record_memory("echo, bare tonic (reference)", &bare, bare_idle);
        Ok(())
    }

    /// GetTodo over gRPC against gRPC-Web, on the same service.
    async fn web(&mut self, todo: &Proc, auth: &MetadataValue<Ascii>, id: &str, user: UserId) -> Res<()> {
        let token = self.token(user)?;
        for c in [1, 16] {
            let grpc = Cell::grpc(
                "web",
                "gRPC (HTTP/2, one connection)",
                "GetTodo",
                c,
                todo,
                auth,
                Rpc::Get(id.into()),
            );
            let web = Cell {
                section: "web",
                target: "gRPC-Web (HTTP/1.1, a connection per stream)".into(),
                what: "GetTodo".into(),
                c,
                pid: todo.pid(),
                how: Target::Web {
                    addr: todo.addr,
                    token: token.clone(),
                    id: id.into(),
                },
            };
            self.cells(vec![grpc, web]).await?;
        }
        Ok(())
    }

    /// CreateTodo on SQLite and on PostgreSQL, and GetTodo on PostgreSQL.
    async fn create(&mut self, sqlite: &Proc, auth: &MetadataValue<Ascii>) -> Res<()> {
        // Declared before the service on it, so dropped after it.
        let pg = match postgres::fresh(&self.options.postgres_url).await {
            Ok(db) => Some(db),
            Err(note) => {
                self.report.notes.push(note);
                None
            }
        };
        let pg_service = match &pg {
            Some(db) => {
                let (p, idle) = self
                    .start_service("todo-service", "todo-postgres", &db.url)
                    .await?;
                let id = seed(p.addr, auth, 25).await?;
                Some((p, idle, id))
            }
            None => None,
        };
        for c in [1, 16] {
            let mut cells = vec![Cell::grpc(
                "create",
                TODO_SQLITE,
                "CreateTodo",
                c,
                sqlite,
                auth,
                Rpc::Create,
            )];
            if let Some((p, _, _)) = &pg_service {
                cells.push(Cell::grpc(
                    "create",
                    TODO_PG,
                    "CreateTodo",
                    c,
                    p,
                    auth,
                    Rpc::Create,
                ));
            }
            self.cells(cells).await?;
        }
        if let Some((p, idle, id)) = pg_service {
            self.cells(vec![Cell::grpc(
                "create",
                TODO_PG,
                "GetTodo",
                16,
                &p,
                auth,
                Rpc::Get(id),
            )])
            .await?;
            self.record_memory("todo-service, PostgreSQL (create)", &p, idle);
        }
        Ok(())
    }

    /// GetTodo's read by the store through sqlx pools with and without a ping before
    /// each query, on the main SQLite database and on a fresh PostgreSQL one; on SQLite
    /// also through sqlx's native driver and through the store's direct reads.
    async fn pool(&mut self, id: &str, user: UserId) -> Res<()> {
        let sqlite = format!("sqlite://{}", self.dir.join("todo.db").display());
        let mut targets = Vec::new();
        for test_before_acquire in [true, false] {
            let call = PoolCall::open(&sqlite, ReadPath::Sqlx { test_before_acquire }, id, user).await?;
            targets.push((
                format!("SQLite, Any, test_before_acquire({test_before_acquire})"),
                call,
            ));
        }
        let call = PoolCall::open(&sqlite, ReadPath::NativeSqlite, id, user).await?;
        targets.push(("SQLite, native sqlx driver".to_owned(), call));
        let call = PoolCall::open(&sqlite, ReadPath::Store, id, user).await?;
        targets.push(("SQLite, the store (reads on the calling thread)".to_owned(), call));
        let pg = postgres::fresh(&self.options.postgres_url).await.ok();
        if let Some(db) = &pg {
            let pg_id = one_todo(&db.url, user).await?;
            for test_before_acquire in [true, false] {
                let call =
                    PoolCall::open(&db.url, ReadPath::Sqlx { test_before_acquire }, &pg_id, user).await?;
                targets.push((
                    format!("PostgreSQL, test_before_acquire({test_before_acquire})"),
                    call,
                ));
            }
        }
        let me = std::process::id();
        let result = async {
            for c in [1, 16] {
                let cells = targets
                    .iter()
                    .map(|(label, call)| Cell {
                        section: "pool",
                        target: label.clone(),
                        what: "GetTodo's SELECT".into(),
                        c,
                        pid: me,
                        how: Target::Pool(call.clone()),
                    })
                    .collect();
                self.cells(cells).await?;
            }
            Ok::<(), String>(())
        }
        .await;
        // Before the database is dropped (with `pg`, after this).
        for (_, call) in &targets {
            call.close().await;
        }
        result
    }

    /// The Login flood against the argon2 bound, and what it does to GetTodo beside it.
    async fn login(&mut self, todo: &Proc, auth: &MetadataValue<Ascii>, id: &str) -> Res<()> {
        let db = format!("sqlite://{}", self.dir.join("auth.db").display());
        let (a, idle) = self.start_service("auth-service", "auth-sqlite", &db).await?;
        let (username, password) = ("benchuser".to_owned(), "correct horse battery".to_owned());
        let mut client = AuthServiceClient::new(connect(a.addr).await?);
        client
            .register(authpb::RegisterRequest {
                username: username.clone(),
                password: password.clone(),
                ..Default::default()
            })
            .await
            .map_err(|s| format!("register: {}", status_text(s)))?;
        // The token Login hands out works at the todo-service.
        let pair = client
            .login(authpb::LoginRequest {
                username: username.clone(),
                password: password.clone(),
            })
            .await
            .map_err(|s| format!("login: {}", status_text(s)))?
            .into_inner();
        let real: MetadataValue<Ascii> = format!("Bearer {}", pair.access_token)
            .parse()
            .map_err(err("metadata"))?;
        TodoCall::connect(todo.addr, &real, Rpc::Create)
            .await?
            .call()
            .await
            .map_err(|e| format!("todo call with a Login token: {e}"))?;

        let lc = self.options.login_concurrency;
        let login_call = LoginCall {
            client: AuthServiceClient::new(connect(a.addr).await?),
            username,
            password,
        };
        let get_call = TodoCall::connect(todo.addr, auth, Rpc::Get(id.into())).await?;
        let (mut logins, mut during, mut gets, mut quiets) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut max_threads = 0;
        let (auth_only, both) = ([a.pid()], [a.pid(), todo.pid()]);
        for run in 0..self.options.runs {
            // GetTodo alone, the flood alone, then both at once.
            let (warmup, window) = (self.warmup(run), self.window());
            let q = closed_loop(vec![get_call.clone()], warmup, window, &[todo.pid()]).await;
            progress(TODO_SQLITE, "GetTodo, quiet", 1, &q);
            quiets.push(q);
            let (l, t) = tokio::join!(
                closed_loop(vec![login_call.clone(); lc], warmup, window, &auth_only),
                procs::max_threads_until(a.pid(), Instant::now() + warmup + window),
            );
            max_threads = max_threads.max(t);
            progress("auth-service", "Login flood", lc, &l);
            logins.push(l);
            let (l, g) = tokio::join!(
                closed_loop(vec![login_call.clone(); lc], warmup, window, &both),
                closed_loop(vec![get_call.clone()], warmup, window, &[]),
            );
            progress("auth-service", "Login flood + GetTodo", lc, &l);
            progress(TODO_SQLITE, "GetTodo during flood", 1, &g);
            during.push(l);
            gets.push(g);
        }
        let login_during = Summary::of(&during);
        let (login, flood, quiet) = (Summary::of(&logins), Summary::of(&gets), Summary::of(&quiets));
        self.note_errors("Login", &login);
        self.note_errors("GetTodo during flood", &flood);
        self.note_errors("GetTodo quiet", &quiet);
        if let Some(f) = self.report.login.as_mut() {
            f.login = login;
            f.login_during = login_during;
            f.quiet = quiet;
            f.flood = flood;
            f.max_threads = max_threads;
        }
        self.record_memory("auth-service, SQLite (login flood)", &a, idle);
        Ok(())
    }

    /// The first page of ListTodos on a small table and on a large one.
    async fn list(&mut self) -> Res<()> {
        let per_user = self.options.rows_per_user.max(21);
        let user = UserId::new();
        let auth = self.bearer(user)?;
        let sizes = [2 * per_user, self.options.big_rows.max(2 * per_user)];
        let mut services = Vec::new();
        for rows in sizes {
            let file = self.dir.join(format!("list-{rows}.db"));
            crate::bulk::migrate(&file).await?;
            let took = crate::bulk::load(&file, rows, per_user, user).await?;
            eprintln!("loaded {rows} rows in {:.1} s", took.as_secs_f64());
            self.report.load_rows.push((rows, took));
            if rows == sizes[1] {
                self.report.plan = crate::plan::first_page(&file, user).await?;
            }
            let name = format!("todo-list-{rows}");
            let url = format!("sqlite://{}", file.display());
            services.push((rows, self.start_service("todo-service", &name, &url).await?));
        }
        for c in [1, 16] {
            let cells = services
                .iter()
                .map(|(rows, (p, _))| {
                    Cell::grpc(
                        "list",
                        &format!("{rows} rows"),
                        "ListTodos(20) first page",
                        c,
                        p,
                        &auth,
                        Rpc::List(20),
                    )
                })
                .collect();
            self.cells(cells).await?;
        }
        for (rows, (p, idle)) in &services {
            self.record_memory(&format!("todo-service, SQLite with {rows} rows (list)"), p, *idle);
        }
        Ok(())
    }
}

/// Migrates the database at `url` as the todo-service does and creates one todo of
/// `user` there through the store; returns its id.
async fn one_todo(url: &str, user: UserId) -> Res<String> {
    let pool = common::db::connect(
        url,
        &common::db::PoolSettings::default(),
        &todo_service::startup::MIGRATOR,
    )
    .await
    .map_err(err("migrate"))?;
    let title = Title::parse("title", TITLE).map_err(err("title"))?;
    let description = Description::parse("description", DESCRIPTION).map_err(err("description"))?;
    let now = common::time::Clock::system().now_micros();
    let created = Store::new(pool.clone(), url, CreateLimits::default())
        .map_err(err("store"))?
        .create(user, &title, &description, now)
        .await
        .map_err(err("create"));
    pool.close().await;
    Ok(created?.id.to_string())
}
