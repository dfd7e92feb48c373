//! Runs the suite: starts the processes under test with the suite's environment, runs
//! the cells of each table interleaved, keeps their medians in the [`Report`], and
//! prints it. What each section measures is in [`crate::sections`].

use std::{
    net::SocketAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

use token::{AccessTokens, JwtSecret, SessionId, TokenSettings, UserId};
use tonic::metadata::{Ascii, MetadataValue};

use crate::{
    Res, SECRET,
    callers::{Rpc, Target, TodoCall},
    drive::{Caller, closed_loop},
    err, host,
    options::Options,
    procs::{self, Proc},
    report::{self, Mem, Report, Row, RunInfo},
    stats::{Sample, Summary},
};

/// The suite's state: where the binaries and the run directory are, what was measured.
pub struct Suite {
    pub options: Options,
    pub bins: PathBuf,
    /// Databases and service logs of this run.
    pub dir: PathBuf,
    pub report: Report,
    tokens: AccessTokens,
}

/// One line of a table: a call at a concurrency against one server.
pub struct Cell {
    pub section: &'static str,
    pub target: String,
    pub what: String,
    pub c: usize,
    /// The process whose CPU the line shows.
    pub pid: u32,
    pub how: Target,
}

impl Cell {
    /// A gRPC cell against the service `p`.
    pub fn grpc(
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

/// Runs the sections `options` asks for and prints the report on stdout (progress on
/// stderr).
pub async fn run(options: Options) -> Res<()> {
    let bins = match &options.bin_dir {
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
    let keep = options.keep;
    let mut suite = Suite {
        options,
        bins,
        dir: tmp.path().to_path_buf(),
        report: Report::default(),
        tokens,
    };
    let started = Instant::now();
    let load_before = host::loadavg();
    let cpu_before = host::cpu_jiffies();
    eprintln!("run directory {}", suite.dir.display());
    let result = suite.sections().await;
    let load_after = host::loadavg();
    let steal = host::steal_percent(&cpu_before, &host::cpu_jiffies());
    suite.report.notes.insert(
        0,
        format!("CPU time stolen by the hypervisor during the suite: {steal:.1}% (from /proc/stat)"),
    );
    if keep {
        eprintln!("kept {}", tmp.keep().display());
    }
    result?;
    let run = RunInfo {
        took: started.elapsed(),
        load_before,
        load_after,
    };
    report::print(&suite.report, &suite.options, &run);
    Ok(())
}

impl Suite {
    /// Whether `--only` includes `section`.
    pub fn on(&self, section: &str) -> bool {
        self.options.only.iter().any(|s| s == section)
    }

    pub fn window(&self) -> Duration {
        Duration::from_secs_f64(self.options.secs)
    }

    /// The warm-up of run `run`: the first of a cell warms up twice as long.
    pub fn warmup(&self, run: usize) -> Duration {
        Duration::from_secs_f64(self.options.warmup * if run == 0 { 2.0 } else { 1.0 })
    }

    /// `Bearer <token>` for `user`, as metadata.
    pub fn bearer(&self, user: UserId) -> Res<MetadataValue<Ascii>> {
        let token = self.token(user)?;
        format!("Bearer {token}").parse().map_err(err("metadata"))
    }

    /// An access token for `user`, signed as the auth-service signs them.
    pub fn token(&self, user: UserId) -> Res<String> {
        Ok(self
            .tokens
            .issue(user, "benchuser", SessionId::new())
            .map_err(err("sign"))?
            .token)
    }

    /// A service's whole environment: the suite's settings, then `extra` over them.
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
            // but one bench user creates far more than a person would. The rate is one
            // create a microsecond, a minute's burst: u32::MAX rounded the interval, and
            // so the burst, down to 0, which refused concurrent creates that arrived out
            // of order.
            ("MAX_TODOS_PER_USER", u32::MAX.to_string()),
            ("MAX_TODO_CREATES_PER_MINUTE", "60000000".to_owned()),
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

    /// Starts `bin` as `name` on database `db`, waits until it is SERVING and settled;
    /// returns it and its idle resident memory (MiB).
    pub async fn start_service(&self, bin: &str, name: &str, db: &str) -> Res<(Proc, f64)> {
        let addr = procs::free_addr().map_err(err("free port"))?;
        let extra = if bin == "auth-service" {
            &self.options.auth_env
        } else {
            &self.options.todo_env
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
        self.options
            .wrap
            .iter()
            .filter_map(|w| w.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, cmd)| cmd.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Starts the echo server in `mode`; ready when a call with a token of `token_for`
    /// succeeds.
    pub async fn start_echo(&self, mode: &str, token_for: UserId) -> Res<Proc> {
        let addr = procs::free_addr().map_err(err("free port"))?;
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
        let auth = self.bearer(token_for)?;
        let deadline = Instant::now() + Duration::from_secs(if wrap.is_empty() { 20 } else { 120 });
        loop {
            if !p.alive() {
                return Err(format!("echo exited:\n{}", p.log_tail()));
            }
            let probe = Rpc::Get(uuid::Uuid::new_v4().to_string());
            if let Ok(mut call) = TodoCall::connect(addr, &auth, probe).await
                && call.call().await.is_ok()
            {
                eprintln!("started echo --mode {mode} on {addr} (pid {})", p.pid());
                return Ok(p);
            }
            if Instant::now() > deadline {
                return Err(format!("echo not ready:\n{}", p.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `cells` interleaved: run 1 of each, then run 2 of each, and so on, so that
    /// whatever else the machine does falls on all of them alike. Records the medians.
    pub async fn cells(&mut self, cells: Vec<Cell>) -> Res<()> {
        let mut samples: Vec<Vec<Sample>> = cells.iter().map(|_| Vec::new()).collect();
        for run in 0..self.options.runs {
            for (cell, samples) in cells.iter().zip(samples.iter_mut()) {
                let callers = cell.how.callers(cell.c).await?;
                let s = closed_loop(callers, self.warmup(run), self.window(), &[cell.pid]).await;
                progress(&cell.target, &cell.what, cell.c, &s);
                samples.push(s);
            }
        }
        for (cell, samples) in cells.into_iter().zip(samples) {
            let summary = Summary::of(&samples);
            self.note_errors(&format!("{} {} c={}", cell.target, cell.what, cell.c), &summary);
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

    /// A note for the report when some of a cell's calls failed.
    pub fn note_errors(&mut self, what: &str, s: &Summary) {
        if s.errors > 0 {
            self.report.notes.push(format!(
                "{what}: {} errors, first: {}",
                s.errors,
                s.first_error.clone().unwrap_or_default()
            ));
        }
    }

    /// Records `p`'s memory: idle as given, its peak and its resident size now.
    pub fn record_memory(&mut self, name: &str, p: &Proc, idle: f64) {
        self.report.memory.push(Mem {
            name: name.to_owned(),
            idle,
            peak: p.status_mib("VmHWM").unwrap_or(f64::NAN),
            after: p.status_mib("VmRSS").unwrap_or(f64::NAN),
        });
    }
}

/// One progress line on stderr per measured run.
pub fn progress(target: &str, what: &str, c: usize, s: &Sample) {
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

/// Creates `n` todos through the service at `addr` for the caller of `auth`; returns
/// the id of the first.
pub async fn seed(addr: SocketAddr, auth: &MetadataValue<Ascii>, n: usize) -> Res<String> {
    let mut call = TodoCall::connect(addr, auth, Rpc::Create).await?;
    let mut first = None;
    for _ in 0..n {
        let id = call.create().await.map_err(|e| format!("seed: {e}"))?;
        first.get_or_insert(id);
    }
    first.ok_or_else(|| "seed: nothing created".into())
}
