//! Both services in one process on SQLite, for trying the pair out locally with no
//! set-up. A random signing secret is generated for the pair unless JWT_SECRET is given;
//! tokens then last only as long as the process.

use std::{net::SocketAddr, path::PathBuf};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use clap::Parser;
use tokio::sync::watch;

/// Runs auth-service and todo-service together on SQLite.
#[derive(Parser)]
#[command(name = "all-in-one", version, about)]
struct Args {
    /// auth-service address.
    #[arg(long, env = "AUTH_LISTEN_ADDR", default_value = "127.0.0.1:50051")]
    auth_addr: SocketAddr,
    /// todo-service address.
    #[arg(long, env = "TODO_LISTEN_ADDR", default_value = "127.0.0.1:50052")]
    todo_addr: SocketAddr,
    /// Folder for auth.db and todo.db (created if missing).
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Shared signing secret; a random one is generated when unset.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Browser origins allowed over gRPC-Web.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    cors_allowed_origins: Vec<String>,
}

/// Where this process reaches a service it listens for: a wildcard address on loopback.
fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let ip = if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}

/// Links in local mails: the web client's dev server (`cd web && npm run dev`).
const LOCAL_VERIFY_URL: &str = "http://localhost:5173/verify-email?token={token}";
const LOCAL_RESET_URL: &str = "http://localhost:5173/reset-password?token={token}";

fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    rand::fill(&mut bytes[..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let _logs = common::telemetry::init("all-in-one");
    let args = Args::parse();
    if let Err(e) = std::fs::create_dir_all(&args.data_dir) {
        tracing::error!("cannot create {}: {e}", args.data_dir.display());
        return std::process::ExitCode::FAILURE;
    }
    let secret = args.jwt_secret.clone().unwrap_or_else(random_secret);
    let db = |name: &str| format!("sqlite://{}", args.data_dir.join(name).display());

    // Start from each service's own defaults (and environment), then set what the pair shares.
    let mut auth = auth_service::Config::parse_from(["auth-service"]);
    auth.listen_addr = args.auth_addr;
    auth.database_url = db("auth.db");
    auth.jwt.jwt_secret = Some(secret.clone());
    auth.jwt.jwt_secret_file = None;
    auth.server.cors_allowed_origins = args.cors_allowed_origins.clone();
    // Mail goes into a folder unless an SMTP server is given; links point at the web
    // client's dev server unless set.
    let mail_dir = args.data_dir.join("mail");
    if auth.mail.smtp_url.is_none() && auth.mail.mail_outbox_dir.is_none() {
        auth.mail.mail_outbox_dir = Some(mail_dir.clone());
    }
    auth.mail
        .verify_email_url
        .get_or_insert_with(|| LOCAL_VERIFY_URL.to_owned());
    auth.mail
        .reset_password_url
        .get_or_insert_with(|| LOCAL_RESET_URL.to_owned());
    let mail_line = match &auth.mail.mail_outbox_dir {
        Some(dir) => format!("  mail          {} (one .eml file per message)\n", dir.display()),
        None => "  mail          sent through SMTP_URL\n".to_owned(),
    };
    let mut todo = todo_service::Config::parse_from(["todo-service"]);
    todo.listen_addr = args.todo_addr;
    todo.database_url = db("todo.db");
    todo.jwt = auth.jwt.clone();
    todo.server.cors_allowed_origins = args.cors_allowed_origins.clone();

    // The auth-service first: the todo-service follows its revocation feed, so a
    // Logout or LogoutAll reaches it here too.
    let auth_app = match auth_service::startup::build(auth).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("auth-service cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    todo.auth_service_url = Some(format!("http://{}", loopback(auth_app.local_addr())));
    let todo_app = match todo_service::startup::build(todo).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("todo-service cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let (auth_addr, todo_addr) = (auth_app.local_addr(), todo_app.local_addr());
    println!(
        "\n  auth-service  {auth_addr}   (auth.v1.AuthService)\n  todo-service  {todo_addr}   (todo.v1.TodoService)\n  data          {}\n{}{}\n  Try:\n    grpcurl -plaintext -d '{{\"username\":\"alice\",\"password\":\"correct horse battery\"}}' {auth_addr} auth.v1.AuthService/Register\n\n  Ctrl-C stops both.\n",
        args.data_dir.display(),
        mail_line,
        if args.jwt_secret.is_none() {
            "  secret        random for this run (set JWT_SECRET to keep tokens valid across restarts)\n"
        } else {
            ""
        },
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let auth_task = tokio::spawn(auth_app.run_until_stopped(stopped(stop_rx.clone())));
    let todo_task = tokio::spawn(todo_app.run_until_stopped(stopped(stop_rx)));
    common::server::shutdown_signal().await;
    let _ = stop_tx.send(true);
    let (a, t) = tokio::join!(auth_task, todo_task);
    let ok = matches!(a, Ok(Ok(()))) && matches!(t, Ok(Ok(())));
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
