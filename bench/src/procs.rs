//! The processes under test: spawned from their binaries, watched through `/proc`,
//! killed when dropped (so an aborted run leaves nothing behind).

use std::{
    fs::File,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// Clock ticks per second of `/proc/PID/stat` (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
const CLK_TCK: f64 = 100.0;

/// A free loopback port (bound and released: a race with other programs is possible,
/// and harmless here).
pub fn free_addr() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// A running child process, killed and reaped on drop.
pub struct Proc {
    pub name: String,
    pub addr: SocketAddr,
    pub log: PathBuf,
    child: std::process::Child,
}

impl Proc {
    /// Starts `bin` with `env` only (and `PATH`), output to `log_dir/NAME.log`.
    /// `wrap` is a command to run the binary under (a profiler), or empty.
    pub fn spawn(
        name: &str,
        wrap: &[String],
        bin: &Path,
        args: &[&str],
        env: &[(&str, String)],
        addr: SocketAddr,
        log_dir: &Path,
    ) -> std::io::Result<Self> {
        let log = log_dir.join(format!("{name}.log"));
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        let mut cmd = match wrap.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        // Only what the suite sets: no stray JWT_*, DATABASE_* or RUST_LOG from the caller.
        cmd.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start {}: {e}", bin.display())))?;
        Ok(Self {
            name: name.to_owned(),
            addr,
            log,
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of its log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`) in MiB.
    pub fn status_mib(&self, field: &str) -> Option<f64> {
        status_mib(self.pid(), field)
    }

    /// CPU seconds used so far (user + system).
    pub fn cpu_secs(&self) -> f64 {
        cpu_secs(self.pid())
    }
}

impl Drop for Proc {
    /// SIGTERM, up to 20 s to finish (a profiler writes its output then), then SIGKILL.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's PID, which it cannot have lost: the child
            // is not reaped before this point.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `kB` field of `/proc/PID/status` in MiB.
pub fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kb: f64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb / 1024.0)
    })
}

/// CPU seconds (user + system) of a process; 0 when it cannot be read.
pub fn cpu_secs(pid: u32) -> f64 {
    let (user, system) = cpu_split(pid);
    user + system
}

/// CPU seconds of a process in user and in kernel mode; 0 when it cannot be read.
pub fn cpu_split(pid: u32) -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return (0.0, 0.0);
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return (0.0, 0.0);
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) / CLK_TCK, ticks(12) / CLK_TCK)
}

/// Context switches (voluntary and not) of all threads of a process so far; threads
/// that have exited are not counted.
pub fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .map(|status| {
            status
                .lines()
                .filter(|l| {
                    l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches")
                })
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// Minor page faults of a process so far (field 10 of `/proc/PID/stat`).
pub fn minor_faults(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = &stat[stat.rfind(')')? + 1..];
            after.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Threads of a process now; 0 when it cannot be read.
pub fn threads(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Threads:").and_then(|v| v.trim().parse().ok()))
        })
        .unwrap_or(0)
}

/// The most threads `pid` had, sampled every 50 ms until `until`.
pub async fn max_threads_until(pid: u32, until: Instant) -> u64 {
    let mut max = 0;
    while Instant::now() < until {
        max = max.max(threads(pid));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    max
}

/// CPU seconds used by this process.
pub fn self_cpu_secs() -> f64 {
    cpu_secs(std::process::id())
}

/// Waits until the gRPC health service of `addr` reports SERVING for the whole server.
pub async fn wait_serving(proc: &mut Proc, timeout: Duration) -> Result<(), String> {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let deadline = Instant::now() + timeout;
    let url = format!("http://{}", proc.addr);
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        if !proc.alive() {
            return Err(format!("{} exited:\n{}", proc.name, proc.log_tail()));
        }
        let channel = match tonic::transport::Channel::from_shared(url.clone()) {
            Ok(endpoint) => endpoint.connect().await,
            Err(e) => return Err(format!("{url}: {e}")),
        };
        match channel {
            Ok(ch) => {
                let r = HealthClient::new(ch)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await;
                match r {
                    Ok(r) if r.get_ref().status == ServingStatus::Serving as i32 => return Ok(()),
                    Ok(r) => last = format!("status {}", r.get_ref().status),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "{} not serving after {timeout:?} ({last}):\n{}",
        proc.name,
        proc.log_tail()
    ))
}
