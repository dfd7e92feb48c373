//! A service binary run as a child process: on port 0, its address read from its ready
//! line, killed when dropped.

use std::{
    net::SocketAddr,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::wait_serving;

type Stdout = BufReader<tokio::process::ChildStdout>;

/// A service binary run as a child process, killed when dropped.
pub struct ChildService {
    /// The process, for tests that wait for it to exit or signal it by pid.
    pub child: tokio::process::Child,
    /// Where it listens: it binds port 0 and says where in its ready line, so no port
    /// is reserved and released ahead (a race with every other process).
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when `METRICS_ADDR` was set (from the ready line).
    pub metrics_addr: Option<SocketAddr>,
    /// The plaintext health-only port, when `HEALTH_ADDR` was set (from the ready line).
    pub health_addr: Option<SocketAddr>,
    /// The log lines read while waiting for the ready line, then the rest.
    logs: Option<(Vec<u8>, Stdout)>,
    /// Every log line, for [`launch`](Self::launch)ed services.
    captured: Option<Arc<Mutex<Vec<u8>>>>,
}

impl ChildService {
    /// Starts `binary` with `env` (plus LISTEN_ADDR on port 0) and waits until SERVING;
    /// its warnings go to this process's output.
    pub async fn start(binary: &str, env: &[(&str, String)]) -> Self {
        let mut service = Self::spawn(binary, env, "warn").await;
        if let Some((_, mut rest)) = service.logs.take() {
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut rest, &mut tokio::io::stdout()).await;
            });
        }
        service
    }

    /// Like [`start`](Self::start), logging at `info`, kept for [`logs`](Self::logs): for
    /// tests of what the service writes.
    pub async fn start_logging(binary: &str, env: &[(&str, String)]) -> Self {
        Self::spawn(binary, env, "info").await
    }

    /// Starts `binary` in `dir` with exactly `env`: nothing inherited, nothing added
    /// (so the listen address and the log filter are the caller's; the ready line must
    /// be logged). Returns at the ready line, without a health check (the service port
    /// may need TLS); every log line is kept for [`log_text`](Self::log_text).
    pub async fn launch(binary: &Path, env: &[(String, String)], dir: &Path) -> Self {
        let mut command = tokio::process::Command::new(binary);
        command
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir);
        let mut service = Self::read_ready(command, binary).await;
        let captured = Arc::new(Mutex::new(Vec::new()));
        if let Some((seen, mut rest)) = service.logs.take() {
            let sink = captured.clone();
            sink.lock().expect("log buffer").extend_from_slice(&seen);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = rest.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    sink.lock().expect("log buffer").extend_from_slice(&buf[..n]);
                }
            });
        }
        service.captured = Some(captured);
        service
    }

    /// Everything a [`launch`](Self::launch)ed service has logged so far.
    pub fn log_text(&self) -> String {
        self.captured
            .as_ref()
            .map(|c| String::from_utf8_lossy(&c.lock().expect("log buffer")).into_owned())
            .unwrap_or_default()
    }

    /// Every log line of a [`start_logging`](Self::start_logging) service, from the
    /// first, until it exits.
    pub fn logs(&mut self) -> impl tokio::io::AsyncRead + Unpin + use<> {
        let (seen, rest) = self
            .logs
            .take()
            .expect("logs are kept by start_logging, taken once");
        tokio::io::AsyncReadExt::chain(std::io::Cursor::new(seen), rest)
    }

    async fn spawn(binary: &str, env: &[(&str, String)], log: &str) -> Self {
        let mut command = tokio::process::Command::new(binary);
        command
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("LISTEN_ADDR", "127.0.0.1:0")
            // The ready line (`common::server`, info) says where it listens.
            .env("RUST_LOG", format!("{log},common::server=info"));
        let service = Self::read_ready(command, Path::new(binary)).await;
        wait_serving(service.addr, "").await;
        service
    }

    /// Runs `command` and reads its output up to the ready line.
    async fn read_ready(mut command: tokio::process::Command, binary: &Path) -> Self {
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut seen = Vec::new();
        let (addr, line) = loop {
            let mut line = String::new();
            let read = tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut line))
                .await
                .expect("the service says it is ready within 30 s")
                .expect("read the service's output");
            assert!(
                read > 0,
                "the service exited before it was ready:\n{}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(line.as_bytes());
            if let Some(addr) = ready_addr(&line) {
                break (addr, line);
            }
        };
        Self {
            child,
            addr,
            metrics_addr: ready_field(&line, "metrics_addr").and_then(|a| a.parse().ok()),
            health_addr: ready_field(&line, "health_addr").and_then(|a| a.parse().ok()),
            logs: Some((seen, stdout)),
            captured: None,
        }
    }

    /// Sends a signal by name (`TERM`, `KILL`) to the process.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), pid])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

/// The address in a service's ready line (`... ready addr=127.0.0.1:1234 ...`, or the
/// same as JSON), if `line` is one.
pub fn ready_addr(line: &str) -> Option<SocketAddr> {
    if !line.contains(" ready") {
        return None;
    }
    ready_field(line, "addr")?.parse().ok()
}

/// The value of field `name` in a log line, text (` name=value`) or JSON
/// (`"name":"value"`).
pub fn ready_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let text = format!(" {name}=");
    let json = format!("\"{name}\":\"");
    let start = line
        .find(&text)
        .map(|i| i + text.len())
        .or_else(|| line.find(&json).map(|i| i + json.len()))?;
    let rest = &line[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"')
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_lines() {
        let text = "2026-12-01T13:34:31Z  INFO todo-service ready addr=127.0.0.1:45523 \
                    database=\"sqlite\" kid=\"J\" metrics_addr=127.0.0.1:34187";
        assert_eq!(ready_addr(text), Some("127.0.0.1:45523".parse().unwrap()));
        assert_eq!(ready_field(text, "metrics_addr"), Some("127.0.0.1:34187"));
        assert_eq!(ready_field(text, "health_addr"), None);
        let json = r#"{"fields":{"message":"todo-service ready","addr":"127.0.0.1:42837","metrics_addr":"127.0.0.1:43497","health_addr":"127.0.0.1:45383"}}"#;
        assert_eq!(ready_addr(json), Some("127.0.0.1:42837".parse().unwrap()));
        assert_eq!(ready_field(json, "health_addr"), Some("127.0.0.1:45383"));
        assert_eq!(ready_addr("INFO listening addr=127.0.0.1:1"), None);
    }
}
