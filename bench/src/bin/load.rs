//! The load suite: starts the real service binaries (and the echo floor) on loopback,
//! drives them with tonic clients (and hand-made gRPC-Web requests), and prints one
//! table. `bench/run.sh` builds everything in release and runs it; see BENCHMARKS.md.
//!
//! Every process it starts is a child, killed when the suite ends or fails; every
//! database it creates (a temp directory, a PostgreSQL database) is removed.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    time::{Duration, Instant},
};

use bench::{
    DESCRIPTION, SECRET, TITLE,
    drive::{Caller, closed_loop},
    procs::{self, Proc},
    stats::{Sample, Summary, median},
};
use bytes::{Buf, Bytes};
use clap::Parser;
use http_body_util::{BodyExt, Full};
use todo_grpc_proto::{
    auth::v1::{self as authpb, auth_service_client::AuthServiceClient},
    todo::v1::{self as pb, todo_service_client::TodoServiceClient},
};
use token::{AccessTokens, JwtSecret, TokenSettings};
use tonic::{
    metadata::{Ascii, MetadataValue},
    transport::Channel,
};
use uuid::Uuid;

/// The todo-grpc load suite (loopback only).
#[derive(Parser, Debug, Clone)]
#[command(name = "load")]
struct Args {
    /// Where auth-service, todo-service and echo are (default: beside this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Measured runs per cell; the table shows their medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Length of one measured run, in seconds.
    #[arg(long, default_value_t = 2.0)]
    secs: f64,
    /// Warm-up before each run, in seconds (doubled before a cell's first run).
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    /// Calls of the floor comparison: get (GetTodo), list (ListTodos, page of 20).
    #[arg(long, value_delimiter = ',', default_value = "get,list")]
    floor_calls: Vec<String>,
    /// Concurrent streams for the floor comparison.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
    /// Sections to run: floor, web, create, pool, login, list (comma list).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "floor,web,create,pool,login,list"
    )]
    only: Vec<String>,
    /// PostgreSQL server; a fresh database is created on it and dropped. `none` skips.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres_url: String,
    /// Rows in the large table of the ListTodos comparison.
    #[arg(long, default_value_t = 1_000_000)]
    big_rows: usize,
    /// Rows per user in the ListTodos comparison.
    #[arg(long, default_value_t = 500)]
    rows_per_user: usize,
    /// Concurrent Login calls in the login flood.
    #[arg(long, default_value_t = 8)]
    login_concurrency: usize,
    /// Criterion's output directory (target/criterion), for the micro benchmark rows.
    #[arg(long)]
    criterion_dir: Option<PathBuf>,
    /// Worker threads of the load tool's runtime (1: a current-thread runtime, so the
    /// servers keep at least one of the two cores).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Keep the run directory (databases, service logs) instead of deleting it.
    #[arg(long)]
    keep: bool,
    /// Extra KEY=VALUE environment for the auth-service (repeatable), for experiments
    /// such as `MAX_CONCURRENT_HASHES=1`.
    #[arg(long)]
    auth_env: Vec<String>,
    /// Extra KEY=VALUE environment for the todo-services (repeatable).
    #[arg(long)]
    todo_env: Vec<String>,
    /// NAME=COMMAND: run the process NAME (as in the progress lines: todo-sqlite,
    /// echo-bare, echo-auth, echo-shell, auth-sqlite, ...) under COMMAND, split on
    /// spaces, e.g. `todo-sqlite=valgrind --tool=callgrind --callgrind-out-file=/tmp/todo.cg`
    /// (repeatable; for profiles, whose figures are then not the table's).
    #[arg(long)]
    wrap: Vec<String>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut rt = if args.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(args.client_threads);
        b
    };
    let rt = rt.enable_all().build().expect("tokio runtime");
    match rt.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

type Res<T> = Result<T, String>;

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

// ---------------------------------------------------------------------------------------
// Callers.

#[derive(Clone)]
enum Rpc {
    Get(String),
    List(i32),
    Create,
}

/// A todo call over gRPC; clones share one HTTP/2 connection.
#[derive(Clone)]
struct TodoCall {
    client: TodoServiceClient<Channel>,
    auth: MetadataValue<Ascii>,
    rpc: Rpc,
}

impl TodoCall {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(message);
        r.metadata_mut().insert("authorization", self.auth.clone());
        r
    }
}

fn status_text(s: tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

impl Caller for TodoCall {
    async fn call(&mut self) -> Res<()> {
        match self.rpc.clone() {
            Rpc::Get(id) => {
                let req = self.request(pb::GetTodoRequest { id });
                self.client.get_todo(req).await.map_err(status_text)?;
            }
            Rpc::List(n) => {
                let req = self.request(pb::ListTodosRequest {
                    page_size: n,
                    ..Default::default()
                });
                let page = self.client.list_todos(req).await.map_err(status_text)?;
                if page.get_ref().todos.len() != n as usize {
                    return Err(format!("page of {}", page.get_ref().todos.len()));
                }
            }
            Rpc::Create => {
                let req = self.request(pb::CreateTodoRequest {
                    title: TITLE.into(),
                    description: DESCRIPTION.into(),
                });
                self.client.create_todo(req).await.map_err(status_text)?;
            }
        }
        Ok(())
    }
}

/// A Login call; clones share one HTTP/2 connection.
#[derive(Clone)]
struct LoginCall {
    client: AuthServiceClient<Channel>,
    username: String,
    password: String,
}

impl Caller for LoginCall {
    async fn call(&mut self) -> Res<()> {
        self.client
            .login(authpb::LoginRequest {
                username: self.username.clone(),
                password: self.password.clone(),
            })
            .await
            .map_err(status_text)?;
        Ok(())
    }
}

/// GetTodo over gRPC-Web: an HTTP/1.1 POST on a keep-alive connection of its own.
struct WebCall {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
    auth: http::HeaderValue,
    body: Bytes,
}

impl WebCall {
    async fn connect(addr: SocketAddr, token: &str, id: &str) -> Res<Self> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(err("connect"))?;
        stream.set_nodelay(true).map_err(err("nodelay"))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(err("http/1.1 handshake"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let message = prost::Message::encode_to_vec(&pb::GetTodoRequest { id: id.into() });
        let mut body = Vec::with_capacity(5 + message.len());
        body.push(0u8);
        body.extend_from_slice(&(message.len() as u32).to_be_bytes());
        body.extend_from_slice(&message);
        Ok(Self {
            sender,
            host: addr.to_string(),
            auth: http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(err("auth"))?,
            body: body.into(),
        })
    }
}

/// Checks a gRPC-Web response body: data frames, then a trailer frame with status 0.
fn grpc_web_ok(mut body: Bytes) -> Res<()> {
    let mut data = false;
    while body.remaining() >= 5 {
        let flag = body.get_u8();
        let len = body.get_u32() as usize;
        if body.remaining() < len {
            return Err("truncated frame".into());
        }
        let frame = body.split_to(len);
        if flag & 0x80 != 0 {
            let trailers = String::from_utf8_lossy(&frame);
            let status = trailers
                .lines()
                .find_map(|l| l.strip_prefix("grpc-status:"))
                .map(str::trim);
            return match status {
                Some("0") if data => Ok(()),
                Some("0") => Err("no message".into()),
                other => Err(format!("grpc-status {other:?}: {trailers}")),
            };
        }
        data = true;
    }
    Err("no trailers".into())
}

impl Caller for WebCall {
    async fn call(&mut self) -> Res<()> {
        let req = http::Request::post("/todo.v1.TodoService/GetTodo")
            .header(http::header::HOST, &self.host)
            .header(http::header::CONTENT_TYPE, "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .header(http::header::AUTHORIZATION, self.auth.clone())
            .body(Full::new(self.body.clone()))
            .map_err(err("request"))?;
        self.sender.ready().await.map_err(err("connection"))?;
        let resp = self.sender.send_request(req).await.map_err(err("send"))?;
        if resp.status() != http::StatusCode::OK {
            return Err(format!("HTTP {}", resp.status()));
        }
        if let Some(s) = resp.headers().get("grpc-status")
            && s != "0"
        {
            return Err(format!("grpc-status {s:?} (trailers-only)"));
        }
        let body = resp.into_body().collect().await.map_err(err("body"))?.to_bytes();
        grpc_web_ok(body)
    }
}

/// GetTodo's statement, as the todo-service's store sends it, through an sqlx pool
/// opened here with the services' pool settings, except `test_before_acquire`.
#[derive(Clone)]
struct PoolCall {
    pool: sqlx::AnyPool,
    id: String,
    user: String,
}

impl PoolCall {
    async fn open(url: &str, test_before_acquire: bool, id: &str, user: Uuid) -> Res<Self> {
        let pool = common::db::pool_options(url, &common::db::PoolSettings::default())
            .test_before_acquire(test_before_acquire)
            .connect(url)
            .await
            .map_err(err("pool"))?;
        Ok(Self {
            pool,
            id: id.to_owned(),
            user: user.to_string(),
        })
    }
}

impl Caller for PoolCall {
    async fn call(&mut self) -> Res<()> {
        use sqlx::Row;
        let row = sqlx::query(
            "SELECT id, title, description, CASE WHEN completed THEN 1 ELSE 0 END AS completed, \
             create_time, update_time FROM todos WHERE id = $1 AND user_id = $2",
        )
        .bind(&self.id)
        .bind(&self.user)
        .fetch_optional(&self.pool)
        .await
        .map_err(err("query"))?
        .ok_or("no such todo")?;
        let _: String = row.try_get("title").map_err(err("decode"))?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Results.

struct Row {
    section: &'static str,
    target: String,
    what: String,
    c: usize,
    s: Summary,
}

#[derive(Default)]
struct Mem {
    name: String,
    idle: f64,
    peak: f64,
    after: f64,
}

struct LoginFigures {
    cores: usize,
    hash_ms: f64,
    parallel_per_s: f64,
    /// The flood alone.
    login: Summary,
    /// The flood while one stream of GetTodo runs at the todo-service.
    login_during: Summary,
    quiet: Summary,
    flood: Summary,
    max_threads: u64,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    memory: Vec<Mem>,
    login: Option<LoginFigures>,
    plan: Vec<String>,
    load_rows: Vec<(usize, Duration)>,
    notes: Vec<String>,
}

impl Report {
    fn find(&self, section: &str, target: &str, what: &str, c: usize) -> Option<&Summary> {
        self.rows
            .iter()
            .find(|r| r.section == section && r.target == target && r.what == what && r.c == c)
            .map(|r| &r.s)
    }
}

// ---------------------------------------------------------------------------------------
// The suite.

struct Suite {
    args: Args,
    bins: PathBuf,
    dir: PathBuf,
    report: Report,
    tokens: AccessTokens,
}

const FLOOR: &str = "echo, bare tonic (floor)";
const ECHO_AUTH: &str = "echo + interceptor";
const ECHO_SHELL: &str = "echo + interceptor + server shell";
const TODO_SQLITE: &str = "todo-service, SQLite";
const TODO_PG: &str = "todo-service, PostgreSQL";

async fn run(args: Args) -> Res<()> {
    let bins = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()
            .map_err(err("current exe"))?
            .parent()
            .ok_or("no binary directory")?
            .to_path_buf(),
    };
    for b in ["auth-service", "todo-service", "echo"] {
        if !bins.join(b).is_file() {
            return Err(format!(
                "{} not found: build with `cargo build --release -p auth-service -p todo-service -p bench`",
                bins.join(b).display()
            ));
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix("todo-grpc-bench-")
        .tempdir()
        .map_err(err("temp dir"))?;
    let secret = JwtSecret::new(SECRET.as_bytes().to_vec()).map_err(err("secret"))?;
    let tokens = AccessTokens::new(
        &secret,
        &[],
        TokenSettings {
            issuer: "todo-grpc-auth".into(),
            audience: "todo-grpc".into(),
            access_ttl: Duration::from_secs(3600),
        },
    );
    let mut suite = Suite {
        args: args.clone(),
        bins,
        dir: tmp.path().to_path_buf(),
        report: Report::default(),
        tokens,
    };
    let started = Instant::now();
    let load_before = loadavg();
    let cpu_before = cpu_jiffies();
    eprintln!("run directory {}", suite.dir.display());
    let result = suite.sections().await;
    let load_after = loadavg();
    let cpu_after = cpu_jiffies();
    let steal = {
        let d: Vec<f64> = cpu_after.iter().zip(&cpu_before).map(|(a, b)| a - b).collect();
        let total: f64 = d.iter().sum();
        if total > 0.0 {
            100.0 * d.get(7).copied().unwrap_or(0.0) / total
        } else {
            f64::NAN
        }
    };
    suite.report.notes.insert(
        0,
        format!("CPU time stolen by the hypervisor during the suite: {steal:.1}% (from /proc/stat)"),
    );
    if args.keep {
        eprintln!("kept {}", tmp.keep().display());
    }
    result?;
    print_report(&suite, started.elapsed(), &load_before, &load_after);
    Ok(())
}

/// The three load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The machine's CPU time so far, by kind (user, nice, system, idle, iowait, irq,
/// softirq, steal), in clock ticks.
fn cpu_jiffies() -> Vec<f64> {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// How a cell's callers reach their server.
#[derive(Clone)]
enum Target {
    /// gRPC over one HTTP/2 connection shared by all streams.
    Grpc {
        addr: SocketAddr,
        auth: MetadataValue<Ascii>,
        rpc: Rpc,
    },
    /// GetTodo over gRPC-Web, one HTTP/1.1 connection per stream.
    Web {
        addr: SocketAddr,
        token: String,
        id: String,
    },
    /// GetTodo's query through an sqlx pool in this process.
    Pool(PoolCall),
}

/// Any of the callers, so cells of different kinds can be interleaved.
enum AnyCall {
    Todo(TodoCall),
    Web(WebCall),
    Pool(PoolCall),
}

impl Caller for AnyCall {
    async fn call(&mut self) -> Res<()> {
        match self {
            AnyCall::Todo(c) => c.call().await,
            AnyCall::Web(c) => c.call().await,
            AnyCall::Pool(c) => c.call().await,
        }
    }
}

impl Target {
    async fn callers(&self, c: usize) -> Res<Vec<AnyCall>> {
        match self {
            Target::Grpc { addr, auth, rpc } => {
                let call = TodoCall {
                    client: TodoServiceClient::new(connect(*addr).await?),
                    auth: auth.clone(),
                    rpc: rpc.clone(),
                };
                Ok(vec![call; c].into_iter().map(AnyCall::Todo).collect())
            }
            Target::Pool(call) => Ok(vec![call.clone(); c].into_iter().map(AnyCall::Pool).collect()),
            Target::Web { addr, token, id } => {
                let mut v = Vec::with_capacity(c);
                for _ in 0..c {
                    v.push(AnyCall::Web(WebCall::connect(*addr, token, id).await?));
                }
                Ok(v)
            }
        }
    }
}

/// One line of the table: a call at a concurrency against one server.
struct Cell {
    section: &'static str,
    target: String,
    what: String,
    c: usize,
    pid: u32,
    how: Target,
}

impl Cell {
    fn grpc(
        section: &'static str,
        target: &str,
        what: &str,
        c: usize,
        p: &Proc,
        auth: &MetadataValue<Ascii>,
        rpc: Rpc,
    ) -> Self {
        Self {
            section,
            target: target.to_owned(),
            what: what.to_owned(),
            c,
            pid: p.pid(),
            how: Target::Grpc {
                addr: p.addr,
                auth: auth.clone(),
                rpc,
            },
        }
    }
}

impl Suite {
    fn on(&self, section: &str) -> bool {
        self.args.only.iter().any(|s| s == section)
    }

    fn window(&self) -> Duration {
        Duration::from_secs_f64(self.args.secs)
    }

    fn warmup(&self, run: usize) -> Duration {
        Duration::from_secs_f64(self.args.warmup * if run == 0 { 2.0 } else { 1.0 })
    }

    fn bearer(&self, user: Uuid) -> Res<MetadataValue<Ascii>> {
        let token = self.token(user)?;
        format!("Bearer {token}").parse().map_err(err("metadata"))
    }

    fn token(&self, user: Uuid) -> Res<String> {
        Ok(self
            .tokens
            .issue(
                token::UserId::from_uuid(user),
                "benchuser",
                token::SessionId::new(),
            )
            .map_err(err("sign"))?
            .token)
    }

    fn env(&self, addr: SocketAddr, db: &str, extra: &[String]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("LISTEN_ADDR", addr.to_string()),
            ("DATABASE_URL", db.to_owned()),
            ("JWT_SECRET", SECRET.to_owned()),
            ("ACCESS_TOKEN_TTL", "1h".to_owned()),
            // The login flood is many concurrent logins for one name from one address:
            // more than a budget's worth at once locks them (the auth-service's throttle).
            ("LOGIN_MAX_FAILURES", "1000000".to_owned()),
            ("LOGIN_MAX_FAILURES_PER_ADDRESS", "1000000".to_owned()),
            ("RUST_LOG", "info".to_owned()),
            // The per-user limits are checked on every create (their cost is measured),
            // but one bench user creates far more than a person would.
            ("MAX_TODOS_PER_USER", u32::MAX.to_string()),
            ("MAX_TODO_CREATES_PER_MINUTE", u32::MAX.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for kv in extra {
            if let Some((k, v)) = kv.split_once('=') {
                env.retain(|(key, _)| key != k);
                env.push((k.to_owned(), v.to_owned()));
            }
        }
        env
    }

    async fn start_service(&self, bin: &str, name: &str, db: &str) -> Res<(Proc, f64)> {
        let addr = procs::free_addr();
        let extra = if bin == "auth-service" {
            &self.args.auth_env
        } else {
            &self.args.todo_env
        };
        let env = self.env(addr, db, extra);
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let wrap = self.wrapper(name);
        let mut p = Proc::spawn(name, &wrap, &self.bins.join(bin), &[], &env, addr, &self.dir)
            .map_err(|e| e.to_string())?;
        let timeout = Duration::from_secs(if wrap.is_empty() { 60 } else { 300 });
        procs::wait_serving(&mut p, timeout).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = p.status_mib("VmRSS").unwrap_or(f64::NAN);
        eprintln!("started {name} on {addr} (pid {}, {idle:.1} MiB)", p.pid());
        Ok((p, idle))
    }

    /// The `--wrap` command for process `name`, or none.
    fn wrapper(&self, name: &str) -> Vec<String> {
        self.args
            .wrap
            .iter()
            .filter_map(|w| w.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, cmd)| cmd.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    async fn start_echo(&self, mode: &str, token_for: Uuid) -> Res<Proc> {
        let addr = procs::free_addr();
        let name = format!("echo-{mode}");
        let wrap = self.wrapper(&name);
        let mut p = Proc::spawn(
            &name,
            &wrap,
            &self.bins.join("echo"),
            &["--mode", mode],
            &[
                ("LISTEN_ADDR", addr.to_string()),
                ("JWT_SECRET", SECRET.to_owned()),
            ],
            addr,
            &self.dir,
        )
        .map_err(|e| e.to_string())?;
        // Ready when a call succeeds.
        let deadline = Instant::now() + Duration::from_secs(if wrap.is_empty() { 20 } else { 120 });
        loop {
            if !p.alive() {
                return Err(format!("echo exited:\n{}", p.log_tail()));
            }
            if let Ok(ch) = connect(addr).await {
                let mut call = TodoCall {
                    client: TodoServiceClient::new(ch),
                    auth: self.bearer(token_for)?,
                    rpc: Rpc::Get(Uuid::new_v4().to_string()),
                };
                if call.call().await.is_ok() {
                    eprintln!("started echo --mode {mode} on {addr} (pid {})", p.pid());
                    return Ok(p);
                }
            }
            if Instant::now() > deadline {
                return Err(format!("echo not ready:\n{}", p.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `cells` interleaved: run 1 of each, then run 2 of each, and so on, so that
    /// whatever else the machine does falls on all of them alike. Records the medians.
    async fn cells(&mut self, cells: Vec<Cell>) -> Res<()> {
        let mut samples: Vec<Vec<Sample>> = cells.iter().map(|_| Vec::new()).collect();
        for run in 0..self.args.runs {
            for (cell, samples) in cells.iter().zip(samples.iter_mut()) {
                let callers = cell.how.callers(cell.c).await?;
                let s = closed_loop(callers, self.warmup(run), self.window(), &[cell.pid]).await;
                progress(&cell.target, &cell.what, cell.c, &s);
                samples.push(s);
            }
        }
        for (cell, samples) in cells.into_iter().zip(samples) {
            let summary = Summary::of(&samples);
            if summary.errors > 0 {
                self.report.notes.push(format!(
                    "{} {} c={}: {} errors, first: {}",
                    cell.target,
                    cell.what,
                    cell.c,
                    summary.errors,
                    summary.first_error.clone().unwrap_or_default()
                ));
            }
            self.report.rows.push(Row {
                section: cell.section,
                target: cell.target,
                what: cell.what,
                c: cell.c,
                s: summary,
            });
        }
        Ok(())
    }

    async fn sections(&mut self) -> Res<()> {
        // The main todo-service on SQLite, seeded with one user's 25 todos.
        let user = Uuid::new_v4();
        let auth = self.bearer(user)?;
        if self.on("login") {
            // First, while nothing else of ours runs.
            self.argon2_alone();
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

    fn record_memory(&mut self, name: &str, p: &Proc, idle: f64) {
        self.report.memory.push(Mem {
            name: name.to_owned(),
            idle,
            peak: p.status_mib("VmHWM").unwrap_or(f64::NAN),
            after: p.status_mib("VmRSS").unwrap_or(f64::NAN),
        });
    }

    async fn floor(&mut self, todo: &Proc, auth: &MetadataValue<Ascii>, id: &str, user: Uuid) -> Res<()> {
        let bare = self.start_echo("bare", user).await?;
        let bare_idle = bare.status_mib("VmRSS").unwrap_or(f64::NAN);
        let with_auth = self.start_echo("auth", user).await?;
        let shell = self.start_echo("shell", user).await?;
        let calls = [
            ("get", "GetTodo", Rpc::Get(id.into())),
            ("list", "ListTodos(20)", Rpc::List(20)),
        ];
        let wanted = self.args.floor_calls.clone();
        for (_, what, rpc) in calls
            .into_iter()
            .filter(|(k, _, _)| wanted.iter().any(|c| c == k))
        {
            for c in self.args.concurrency.clone() {
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

    async fn web(&mut self, todo: &Proc, auth: &MetadataValue<Ascii>, id: &str, user: Uuid) -> Res<()> {
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

    async fn create(&mut self, sqlite: &Proc, auth: &MetadataValue<Ascii>) -> Res<()> {
        let pg = match self.args.postgres_url.as_str() {
            "none" => {
                self.report
                    .notes
                    .push("PostgreSQL skipped (--postgres-url none)".into());
                None
            }
            url => match PgDb::create(url).await {
                Ok(db) => Some(db),
                Err(e) => {
                    self.report.notes.push(format!("PostgreSQL skipped: {e}"));
                    None
                }
            },
        };
        let result = async {
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
            Ok::<(), String>(())
        }
        .await;
        if let Some(db) = pg {
            db.drop_db().await;
        }
        result
    }

    /// The same GetTodo statement through sqlx pools with and without a ping before each
    /// query, on the main SQLite database and on a fresh PostgreSQL one.
    async fn pool(&mut self, id: &str, user: Uuid) -> Res<()> {
        let sqlite = format!("sqlite://{}", self.dir.join("todo.db").display());
        let mut targets = Vec::new();
        for flag in [true, false] {
            let call = PoolCall::open(&sqlite, flag, id, user).await?;
            targets.push((format!("SQLite, test_before_acquire({flag})"), call));
        }
        let pg = match self.args.postgres_url.as_str() {
            "none" => None,
            url => PgDb::create(url).await.ok(),
        };
        let result = async {
            if let Some(db) = &pg {
                // The service creates the schema; one todo of `user` to read.
                let (p, _) = self
                    .start_service("todo-service", "todo-pool-postgres", &db.url)
                    .await?;
                let pg_id = seed(p.addr, &self.bearer(user)?, 1).await?;
                drop(p);
                for flag in [true, false] {
                    let call = PoolCall::open(&db.url, flag, &pg_id, user).await?;
                    targets.push((format!("PostgreSQL, test_before_acquire({flag})"), call));
                }
            }
            let me = std::process::id();
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
        for (_, call) in targets {
            call.pool.close().await;
        }
        if let Some(db) = pg {
            db.drop_db().await;
        }
        result
    }

    fn argon2_alone(&mut self) {
        use argon2::{Algorithm, Argon2, Block, Params, Version};
        // The auth-service defaults: m = 19 MiB, t = 2, p = 1. The irreducible work of a
        // Login: the argon2 computation alone, in memory allocated beforehand (the
        // service keeps such a buffer per hash thread), no PHC parsing or allocation.
        let params = Params::new(19 * 1024, 2, 1, None).expect("params");
        let blocks_len = params.block_count();
        let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let hash = |blocks: &mut [Block]| {
            let mut out = [0u8; 32];
            a.hash_password_into_with_memory(b"correct horse battery", b"sixteen byte slt", &mut out, blocks)
                .expect("argon2");
            out
        };
        let mut blocks = vec![Block::new(); blocks_len];
        hash(&mut blocks);
        let mut times = Vec::new();
        for _ in 0..9 {
            let t = Instant::now();
            std::hint::black_box(hash(&mut blocks));
            times.push(t.elapsed().as_secs_f64());
        }
        let hash_ms = median(&times) * 1000.0;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut rates = Vec::new();
        for _ in 0..5 {
            let per_thread = 4;
            // Each thread times its own hashes, after its buffer is made and warm.
            let slowest = std::thread::scope(|s| {
                let threads: Vec<_> = (0..cores)
                    .map(|_| {
                        s.spawn(|| {
                            let mut blocks = vec![Block::new(); blocks_len];
                            hash(&mut blocks);
                            let t = Instant::now();
                            (0..per_thread).for_each(|_| {
                                std::hint::black_box(hash(&mut blocks));
                            });
                            t.elapsed()
                        })
                    })
                    .collect();
                threads
                    .into_iter()
                    .filter_map(|t| t.join().ok())
                    .max()
                    .unwrap_or_default()
            });
            rates.push((cores * per_thread) as f64 / slowest.as_secs_f64());
        }
        let parallel_per_s = median(&rates);
        eprintln!(
            "argon2id alone: {hash_ms:.1} ms per verify on one core; {parallel_per_s:.1}/s on {cores} threads"
        );
        self.report.login = Some(LoginFigures {
            cores,
            hash_ms,
            parallel_per_s,
            login: Summary::default(),
            login_during: Summary::default(),
            quiet: Summary::default(),
            flood: Summary::default(),
            max_threads: 0,
        });
    }

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
        let mut probe = TodoCall {
            client: TodoServiceClient::new(connect(todo.addr).await?),
            auth: real,
            rpc: Rpc::Create,
        };
        probe
            .call()
            .await
            .map_err(|e| format!("todo call with a Login token: {e}"))?;

        let lc = self.args.login_concurrency;
        let login_call = LoginCall {
            client: AuthServiceClient::new(connect(a.addr).await?),
            username,
            password,
        };
        let get_call = TodoCall {
            client: TodoServiceClient::new(connect(todo.addr).await?),
            auth: auth.clone(),
            rpc: Rpc::Get(id.into()),
        };
        let (mut logins, mut during, mut gets, mut quiets) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut max_threads = 0;
        let (auth_only, both) = ([a.pid()], [a.pid(), todo.pid()]);
        for run in 0..self.args.runs {
            // GetTodo alone, the flood alone, then both at once.
            let (warmup, window) = (self.warmup(run), self.window());
            let q = closed_loop(vec![get_call.clone()], warmup, window, &[todo.pid()]).await;
            progress(TODO_SQLITE, "GetTodo, quiet", 1, &q);
            quiets.push(q);
            let (l, t) = tokio::join!(
                closed_loop(vec![login_call.clone(); lc], warmup, window, &auth_only),
                max_threads_until(a.pid(), Instant::now() + warmup + window),
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
        for (what, s) in [
            ("Login", &login),
            ("GetTodo during flood", &flood),
            ("GetTodo quiet", &quiet),
        ] {
            if s.errors > 0 {
                self.report.notes.push(format!(
                    "{what}: {} errors, first: {}",
                    s.errors,
                    s.first_error.clone().unwrap_or_default()
                ));
            }
        }
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

    async fn list(&mut self) -> Res<()> {
        let per_user = self.args.rows_per_user.max(21);
        let user = Uuid::new_v4();
        let auth = self.bearer(user)?;
        let sizes = [2 * per_user, self.args.big_rows.max(2 * per_user)];
        let mut services = Vec::new();
        for rows in sizes {
            let file = self.dir.join(format!("list-{rows}.db"));
            let url = format!("sqlite://{}", file.display());
            // Let the service create the schema, stop it, load the rows, start it again.
            drop(
                self.start_service("todo-service", "todo-list-migrate", &url)
                    .await?,
            );
            let took = bulk_load(&file, rows, per_user, user).await?;
            eprintln!("loaded {rows} rows in {:.1} s", took.as_secs_f64());
            self.report.load_rows.push((rows, took));
            if rows == sizes[1] {
                self.report.plan = query_plan(&file, user).await?;
            }
            let name = format!("todo-list-{rows}");
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

/// The most threads `pid` had, sampled every 50 ms until `until`.
async fn max_threads_until(pid: u32, until: Instant) -> u64 {
    let mut max = 0;
    while Instant::now() < until {
        let threads = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("Threads:").and_then(|v| v.trim().parse().ok()))
            })
            .unwrap_or(0);
        max = max.max(threads);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    max
}

fn progress(target: &str, what: &str, c: usize, s: &Sample) {
    eprintln!(
        "  {target:<42} {what:<26} c={c:<3} {:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  server {:.2} cores ({:.2} kernel, {:.1} switches/call)  client {:.2}{}",
        s.rps(),
        s.p50_us as f64 / 1000.0,
        s.p99_us as f64 / 1000.0,
        s.server_cores.iter().sum::<f64>(),
        s.server_kernel_cores,
        s.server_switches as f64 / s.ok.max(1) as f64,
        s.client_cores,
        if s.errors > 0 {
            format!(
                "  {} errors ({})",
                s.errors,
                s.first_error.as_deref().unwrap_or("")
            )
        } else {
            String::new()
        }
    );
}

async fn connect(addr: SocketAddr) -> Res<Channel> {
    Channel::from_shared(format!("http://{addr}"))
        .map_err(err("uri"))?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(err("connect"))
}

/// Creates `n` todos for the caller; returns the id of the first.
async fn seed(addr: SocketAddr, auth: &MetadataValue<Ascii>, n: usize) -> Res<String> {
    let mut call = TodoCall {
        client: TodoServiceClient::new(connect(addr).await?),
        auth: auth.clone(),
        rpc: Rpc::Create,
    };
    let mut first = None;
    for _ in 0..n {
        let req = call.request(pb::CreateTodoRequest {
            title: TITLE.into(),
            description: DESCRIPTION.into(),
        });
        let todo = call
            .client
            .create_todo(req)
            .await
            .map_err(|s| format!("seed: {}", status_text(s)))?
            .into_inner();
        first.get_or_insert(todo.id);
    }
    first.ok_or_else(|| "seed: nothing created".into())
}

// ---------------------------------------------------------------------------------------
// Databases.

/// A fresh PostgreSQL database for the run, dropped by `drop_db`.
struct PgDb {
    admin: String,
    name: String,
    url: String,
}

impl PgDb {
    async fn create(admin: &str) -> Res<Self> {
        use sqlx::Connection;
        let name = format!("bench_{}", Uuid::new_v4().simple());
        let mut conn = tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(admin))
            .await
            .map_err(|_| format!("{admin}: connect timed out"))?
            .map_err(err(admin))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .map_err(err("create database"))?;
        let _ = conn.close().await;
        let (base, query) = admin.split_once('?').map_or((admin, None), |(b, q)| (b, Some(q)));
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let path = base[scheme_end..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + i);
        let mut url = format!("{}/{name}", &base[..path]);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        Ok(Self {
            admin: admin.to_owned(),
            name,
            url,
        })
    }

    async fn drop_db(self) {
        use sqlx::Connection;
        match sqlx::PgConnection::connect(&self.admin).await {
            Ok(mut conn) => {
                if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .execute(&mut conn)
                .await
                {
                    eprintln!("could not drop database {}: {e}", self.name);
                }
                let _ = conn.close().await;
            }
            Err(e) => eprintln!("could not drop database {}: {e}", self.name),
        }
    }
}

/// Writes `rows` todos straight into the SQLite file, `per_user` for each user, the
/// users' rows interleaved in time as real traffic would leave them. `measured` is
/// the first user. Returns how long it took.
async fn bulk_load(file: &Path, rows: usize, per_user: usize, measured: Uuid) -> Res<Duration> {
    use sqlx::{ConnectOptions, Connection, sqlite::SqliteConnectOptions};
    let started = Instant::now();
    let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
        .map_err(err("sqlite url"))?
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Off)
        .pragma("cache_size", "-262144")
        .connect()
        .await
        .map_err(err("open sqlite"))?;
    let users: Vec<String> = std::iter::once(measured)
        .chain((1..rows / per_user).map(|_| Uuid::new_v4()))
        .map(|u| u.to_string())
        .collect();
    const BATCH: usize = 100;
    let one = "(?, ?, ?, ?, ?, ?, ?)";
    let sql = format!(
        "INSERT INTO todos (id, user_id, title, description, completed, create_time, update_time) VALUES {}",
        vec![one; BATCH].join(", ")
    );
    let base = common::time::Clock::system().now_micros() - 10_000_000_000;
    let total = users.len() * per_user;
    let mut n = 0usize;
    let mut tx = conn.begin().await.map_err(err("begin"))?;
    while n < total {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
        for k in n..n + BATCH {
            // Round-robin over users: row k belongs to user k % users, at time base + k.
            let (user, time) = if k < total {
                (&users[k % users.len()], base + k as i64)
            } else {
                // Pad the last statement with rows of the last user.
                (&users[users.len() - 1], base + k as i64)
            };
            q = q
                .bind(Uuid::now_v7().to_string())
                .bind(user.clone())
                .bind(format!("todo {k}"))
                .bind(DESCRIPTION)
                .bind(k % 3 == 0)
                .bind(time)
                .bind(time);
        }
        q.execute(&mut *tx).await.map_err(err("insert"))?;
        n += BATCH;
        if n.is_multiple_of(50_000) {
            tx.commit().await.map_err(err("commit"))?;
            tx = conn.begin().await.map_err(err("begin"))?;
        }
    }
    tx.commit().await.map_err(err("commit"))?;
    sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .map_err(err("checkpoint"))?;
    conn.close().await.map_err(err("close"))?;
    Ok(started.elapsed())
}

/// SQLite's plan for the service's first-page query.
async fn query_plan(file: &Path, user: Uuid) -> Res<Vec<String>> {
    use sqlx::{ConnectOptions, Connection, Row, sqlite::SqliteConnectOptions};
    let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
        .map_err(err("sqlite url"))?
        .connect()
        .await
        .map_err(err("open sqlite"))?;
    let rows = sqlx::query(
        "EXPLAIN QUERY PLAN SELECT id, title, description, CASE WHEN completed THEN 1 ELSE 0 END AS completed, \
         create_time, update_time FROM todos WHERE user_id = $1 ORDER BY create_time DESC, id DESC LIMIT $2",
    )
    .bind(user.to_string())
    .bind(21_i64)
    .fetch_all(&mut conn)
    .await
    .map_err(err("explain"))?;
    let plan = rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>("detail").ok())
        .collect();
    let _ = conn.close().await;
    Ok(plan)
}

// ---------------------------------------------------------------------------------------
// The table.

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem:.0} GiB, Linux {}", kernel.trim())
}

fn criterion_median_ns(dir: &Path, group: &str, name: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join(group).join(name).join("new/estimates.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "-".into()
    }
}

fn ms(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn yes(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn print_report(suite: &Suite, took: Duration, load_before: &str, load_after: &str) {
    let r = &suite.report;
    let a = &suite.args;
    println!("# todo-grpc benchmark results\n");
    println!("- machine: {}", machine());
    println!(
        "- load average before / after: {load_before} / {load_after}; suite took {:.0} s",
        took.as_secs_f64()
    );
    println!(
        "- each cell: {} runs of {:.1} s after a {:.1} s warm-up (doubled for the first run); medians shown; load tool on {} thread(s), closed loop, one HTTP/2 connection per cell",
        a.runs, a.secs, a.warmup, a.client_threads
    );
    if !a.auth_env.is_empty() || !a.todo_env.is_empty() {
        println!(
            "- extra environment: auth-service {:?}, todo-service {:?}",
            a.auth_env, a.todo_env
        );
    }

    if let Some(dir) = &a.criterion_dir {
        let floor = criterion_median_ns(dir, "floor", "hmac_sha256");
        println!("\n## Token code (criterion, median time per call)\n");
        println!("| operation | ns | bare HMAC-SHA256 (ns) | ratio to HMAC |");
        println!("| --- | ---: | ---: | ---: |");
        for name in [
            "sign",
            "verify",
            "verify_cached",
            "verify_bad_signature",
            "verify_garbage",
        ] {
            if let Some(ns) = criterion_median_ns(dir, "token", name) {
                let f = floor.unwrap_or(f64::NAN);
                println!("| {name} | {ns:.0} | {f:.0} | {} |", ratio(ns, f));
            }
        }
    }

    let floor_rows: Vec<&Row> = r.rows.iter().filter(|x| x.section == "floor").collect();
    if !floor_rows.is_empty() {
        println!("\n## Floor against the interceptor and the service (SQLite)\n");
        println!(
            "Ratios are to the bare echo server at the same call and concurrency (req/s: higher is better; p50/p99: lower is better).\n"
        );
        println!(
            "| server | call | streams | req/s | p50 ms | p99 ms | req/s ÷ floor | p50 ÷ floor | p99 ÷ floor | server CPU, cores (kernel) | server µs CPU/call | server context switches/call | load tool CPU |"
        );
        println!(
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for row in &floor_rows {
            let f = r.find("floor", FLOOR, &row.what, row.c);
            let s = &row.s;
            let (fr, f50, f99) = f.map_or((f64::NAN, f64::NAN, f64::NAN), |f| (f.rps, f.p50_ms, f.p99_ms));
            println!(
                "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {:.2} ({:.2}) | {:.0} | {:.1} | {:.2} |",
                row.target,
                row.what,
                row.c,
                s.rps,
                ms(s.p50_ms),
                ms(s.p99_ms),
                ratio(s.rps, fr),
                ratio(s.p50_ms, f50),
                ratio(s.p99_ms, f99),
                s.server_cores,
                s.server_kernel_cores,
                s.server_us_per_call(),
                s.server_switches_per_call,
                s.client_cores
            );
        }
    }

    for (section, title) in [
        ("create", "Writes: CreateTodo on SQLite and PostgreSQL"),
        (
            "web",
            "gRPC-Web (HTTP/1.1) against gRPC (HTTP/2), GetTodo on SQLite",
        ),
        ("list", "ListTodos first page (20) by table size, SQLite"),
        (
            "pool",
            "sqlx pool with and without a ping before each query (in the load tool's process: CPU and switches are its own)",
        ),
    ] {
        let rows: Vec<&Row> = r.rows.iter().filter(|x| x.section == section).collect();
        if rows.is_empty() {
            continue;
        }
        println!("\n## {title}\n");
        println!(
            "| target | call | streams | req/s | p50 ms | p99 ms | server CPU, cores (kernel) | server µs CPU/call | server context switches/call |"
        );
        println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for row in rows {
            let s = &row.s;
            println!(
                "| {} | {} | {} | {:.0} | {} | {} | {:.2} ({:.2}) | {:.0} | {:.1} |",
                row.target,
                row.what,
                row.c,
                s.rps,
                ms(s.p50_ms),
                ms(s.p99_ms),
                s.server_cores,
                s.server_kernel_cores,
                s.server_us_per_call(),
                s.server_switches_per_call
            );
        }
        if section == "list" {
            for (rows, took) in &r.load_rows {
                println!("\nLoaded {rows} rows in {:.1} s.", took.as_secs_f64());
            }
            if !r.plan.is_empty() {
                println!("\nSQLite plan of the first-page query: `{}`", r.plan.join("; "));
            }
        }
    }

    if let Some(l) = &r.login {
        let bound = l.cores as f64 * 1000.0 / l.hash_ms;
        println!("\n## Login against the argon2 bound (SQLite)\n");
        println!("| figure | value |");
        println!("| --- | ---: |");
        println!(
            "| argon2id computation alone, one core, memory allocated beforehand (m=19 MiB, t=2, p=1) | {:.1} ms |",
            l.hash_ms
        );
        println!("| bound: {} cores ÷ time per hash | {bound:.1} /s |", l.cores);
        println!(
            "| argon2id alone on {} threads at once | {:.1} /s |",
            l.cores, l.parallel_per_s
        );
        if l.login.runs > 0 {
            println!(
                "| Login, {} concurrent | {:.1} /s ({:.0}% of bound, {:.0}% of argon2 alone on {} threads) |",
                a.login_concurrency,
                l.login.rps,
                100.0 * l.login.rps / bound,
                100.0 * l.login.rps / l.parallel_per_s,
                l.cores
            );
            println!(
                "| Login p50 / p99 | {} / {} ms |",
                ms(l.login.p50_ms),
                ms(l.login.p99_ms)
            );
            println!(
                "| auth-service CPU during the flood | {:.2} cores ({:.2} kernel), {:.1} ms and {:.0} page faults per login |",
                l.login.server_cores,
                l.login.server_kernel_cores,
                l.login.server_us_per_call() / 1000.0,
                l.login.server_faults_per_call
            );
            println!(
                "| Login while GetTodo runs too | {:.1} /s, p50 / p99 {} / {} ms |",
                l.login_during.rps,
                ms(l.login_during.p50_ms),
                ms(l.login_during.p99_ms)
            );
            println!(
                "| GetTodo (1 stream) quiet: p50 / p99 | {} / {} ms |",
                ms(l.quiet.p50_ms),
                ms(l.quiet.p99_ms)
            );
            println!(
                "| GetTodo (1 stream) during the flood: p50 / p99 | {} / {} ms |",
                ms(l.flood.p50_ms),
                ms(l.flood.p99_ms)
            );
            println!(
                "| GetTodo req/s quiet / during the flood | {:.0} / {:.0} |",
                l.quiet.rps, l.flood.rps
            );
            println!(
                "| auth-service threads, most seen during the flood | {} |",
                l.max_threads
            );
        }
    }

    if !r.memory.is_empty() {
        println!("\n## Resident memory (VmRSS; peak is VmHWM)\n");
        println!("| process | idle MiB | peak under load MiB | after load MiB |");
        println!("| --- | ---: | ---: | ---: |");
        for m in &r.memory {
            println!("| {} | {:.1} | {:.1} | {:.1} |", m.name, m.idle, m.peak, m.after);
        }
    }

    println!("\n## Targets\n");
    println!("| target | measured | verdict |");
    println!("| --- | --- | --- |");
    let high: Vec<usize> = a.concurrency.iter().copied().filter(|&c| c > 1).collect();
    for what in ["GetTodo", "ListTodos(20)"] {
        let costs: Vec<(usize, f64)> = high
            .iter()
            .filter_map(|&c| {
                let f = r.find("floor", FLOOR, what, c)?;
                let i = r.find("floor", ECHO_AUTH, what, c)?;
                Some((c, 100.0 * (1.0 - i.rps / f.rps)))
            })
            .collect();
        if !costs.is_empty() {
            let text: Vec<String> = costs.iter().map(|(c, p)| format!("{p:.1}% at {c}")).collect();
            let ok = costs.iter().all(|(_, p)| *p < 5.0);
            println!(
                "| interceptor costs < 5% of the floor's throughput ({what}) | {} | {} |",
                text.join(", "),
                yes(ok)
            );
        }
    }
    let ratios: Vec<(usize, f64)> = high
        .iter()
        .filter_map(|&c| {
            let f = r.find("floor", FLOOR, "GetTodo", c)?;
            let t = r.find("floor", TODO_SQLITE, "GetTodo", c)?;
            Some((c, t.rps / f.rps))
        })
        .collect();
    if !ratios.is_empty() {
        let text: Vec<String> = ratios.iter().map(|(c, x)| format!("{x:.2} at {c}")).collect();
        let ok = ratios.iter().all(|(_, x)| *x >= 0.5);
        println!(
            "| authenticated GetTodo on SQLite ≥ 0.5 × floor | {} | {} |",
            text.join(", "),
            yes(ok)
        );
    }
    if let Some(l) = &r.login
        && l.login.runs > 0
    {
        let bound = l.cores as f64 * 1000.0 / l.hash_ms;
        let pct = 100.0 * l.login.rps / bound;
        println!(
            "| Login ≥ 90% of the argon2 bound | {:.1}/s of {bound:.1}/s = {pct:.0}% | {} |",
            l.login.rps,
            yes(pct >= 90.0)
        );
    }
    let lists: Vec<&Row> = r
        .rows
        .iter()
        .filter(|x| x.section == "list" && x.c == 1)
        .collect();
    if lists.len() == 2 {
        let (small, big) = (&lists[0].s, &lists[1].s);
        let x = big.p50_ms / small.p50_ms;
        println!(
            "| ListTodos first page as fast at {} as at {} | p50 {} ms vs {} ms (× {x:.2}) | {} |",
            lists[1].target,
            lists[0].target,
            ms(big.p50_ms),
            ms(small.p50_ms),
            yes(x <= 1.25)
        );
    }
    for m in r.memory.iter().filter(|m| !m.name.starts_with("echo")) {
        println!(
            "| {} < 30 MB (28.6 MiB) resident under load | peak {:.1} MiB | {} |",
            m.name,
            m.peak,
            yes(m.peak < 30.0e6 / 1048576.0)
        );
    }
    if !r.notes.is_empty() {
        println!("\n## Notes\n");
        for n in &r.notes {
            println!("- {n}");
        }
    }
}
