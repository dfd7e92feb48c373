//! docker-compose.yml's behaviour, without Docker (the static half is
//! `scripts/check_compose.py check`).
//!
//! `scripts/check_compose.py plan` gives each service's `environment`, interpolated from
//! .env.example (the empty secrets replaced by random ones). It is rewritten only where
//! a container differs from this machine: the `postgres` host becomes the PostgreSQL of
//! `TEST_POSTGRES_URL` with fresh databases made by the init scripts the postgres
//! container runs, listen addresses become port 0 on 127.0.0.1, a URL to another
//! service points at where that one listens, and mounted paths (docker-compose.tls.yml's
//! `./tls`) at certificates made here. The debug binaries are started with exactly that
//! environment in empty directories, awaited with the compose health check command, and
//! walked through register, login, GetMe, CreateTodo, ListTodos, gRPC-Web, CORS,
//! revocation, metrics and a SIGTERM stop. Once as docker-compose.yml, once with
//! docker-compose.tls.yml merged over it.

mod plan;
mod walk;

use std::{collections::BTreeMap, panic::AssertUnwindSafe, time::Duration};

use futures::FutureExt;
use plan::{Local, Plan, Started};
use testkit::ChildService;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain() {
    run(&["docker-compose.yml"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls() {
    run(&["docker-compose.yml", "docker-compose.tls.yml"]).await;
}

/// A service of the plan, running.
pub struct Running {
    pub name: String,
    pub child: ChildService,
    /// Its environment with each listen variable naming where it listens now (what
    /// the health check command runs with).
    pub env: Vec<(String, String)>,
    pub dir: tempfile::TempDir,
}

impl Running {
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

async fn run(files: &[&str]) {
    let Some(admin) = testkit::postgres_url() else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)");
        return;
    };
    let plan = Plan::read(files);
    let local = Local::new(&plan, &admin).await;
    println!(
        "ok   {}: the init scripts create {}",
        plan.files.join(" + "),
        local.names().join(", ")
    );
    let mut running: Vec<Running> = Vec::new();
    let outcome = AssertUnwindSafe(async {
        start_all(&plan, &local, &mut running).await;
        walk::walk(&plan, &local, &running).await;
        stop_all(&plan, &mut running).await;
    })
    .catch_unwind()
    .await;
    if let Err(panic) = outcome {
        for service in &running {
            let log = service.child.log_text();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!("--- {} log (last 40 lines)", service.name);
            for line in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("     {line}");
            }
        }
        std::panic::resume_unwind(panic);
    }
}

/// Starts the services in `depends_on` order, each once those it depends on pass their
/// health check (compose's `service_healthy`).
async fn start_all(plan: &Plan, local: &Local, running: &mut Vec<Running>) {
    let mut started: BTreeMap<String, Started> = BTreeMap::new();
    while started.len() < plan.services.len() {
        let next = plan
            .services
            .iter()
            .find(|s| {
                !started.contains_key(&s.name)
                    && s.depends_on
                        .iter()
                        .all(|d| d == "postgres" || started.contains_key(d))
            })
            .expect("depends_on has no cycle");
        let env = local.environment(next, &started);
        // An empty directory, so a stray relative path (a SQLite file) would show.
        let dir = tempfile::tempdir().expect("temp dir");
        let child = ChildService::launch(&next.binary, &env, dir.path()).await;
        let mut listening = BTreeMap::new();
        for (var, port) in &next.listen {
            let now = match var.as_str() {
                "LISTEN_ADDR" => Some(child.addr),
                "METRICS_ADDR" => child.metrics_addr,
                "HEALTH_ADDR" => child.health_addr,
                other => panic!("{}: cannot tell where {other} listens", next.name),
            }
            .unwrap_or_else(|| panic!("{}: {var} is not in the ready line", next.name));
            listening.insert(var.clone(), (*port, now));
        }
        let env = env
            .into_iter()
            .map(|(k, v)| match listening.get(&k) {
                Some((_, now)) => (k, now.to_string()),
                None => (k, v),
            })
            .collect();
        let service = Running {
            name: next.name.clone(),
            child,
            env,
            dir,
        };
        running.push(service);
        let service = running.last_mut().expect("just pushed");
        await_healthy(next, service).await;
        started.insert(next.name.clone(), Started { listening });
    }
}

/// Runs the compose health check command with the service's environment until it
/// passes, for up to its start period.
async fn await_healthy(plan: &plan::Service, service: &mut Running) {
    let deadline = Instant::now() + Duration::from_secs_f64(plan.start_period);
    loop {
        if healthcheck(&plan.binary, &plan.healthcheck, &service.env).await {
            println!(
                "ok   {} starts with the compose environment and `{} {}` passes",
                service.name,
                plan.binary.file_name().unwrap_or_default().to_string_lossy(),
                plan.healthcheck.join(" ")
            );
            return;
        }
        if let Ok(Some(status)) = service.child.child.try_wait() {
            panic!("{} exited ({status}) before it was healthy", service.name);
        }
        assert!(
            Instant::now() < deadline,
            "{} not healthy within its start period",
            service.name
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether `binary args` exits 0 with exactly `env`.
pub async fn healthcheck(binary: &std::path::Path, args: &[String], env: &[(String, String)]) -> bool {
    tokio::process::Command::new(binary)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// SIGTERM to each, in start order (the auth-service first, while the todo-service's
/// revocation stream is open): each exits 0, well before its SHUTDOWN_GRACE (a stop
/// that takes the whole grace means something held it up).
async fn stop_all(plan: &Plan, running: &mut [Running]) {
    for service in running.iter_mut() {
        let grace = Duration::from_secs_f64(plan.service(&service.name).shutdown_grace);
        service.child.signal("TERM");
        let start = Instant::now();
        let status = tokio::time::timeout(grace + Duration::from_secs(5), service.child.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} still running {:?} after SIGTERM",
                    service.name,
                    grace + Duration::from_secs(5)
                )
            })
            .expect("wait for the service");
        let took = start.elapsed();
        assert!(
            status.success(),
            "{} exited with {status} on SIGTERM after {took:?}",
            service.name
        );
        assert!(
            took < grace,
            "{} took {took:?} to stop on SIGTERM: the whole SHUTDOWN_GRACE ({grace:?})",
            service.name
        );
        println!(
            "ok   {} stops cleanly on SIGTERM in {took:.2?} (SHUTDOWN_GRACE {grace:?})",
            service.name
        );
    }
}
