//! Mail for the tests: a real SMTP server (aiosmtpd, `scripts/smtp_server.py`) on a
//! loopback port, and the folder of `.eml` files it (or the file transport) writes.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::io::{AsyncBufReadExt, BufReader};

/// The script, beside this crate.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/smtp_server.py");

/// A Python that has aiosmtpd: `TEST_PYTHON`, else `python3` on the PATH, else the
/// system's `/usr/bin/python3` (where Debian's `python3-aiosmtpd` goes).
fn python() -> &'static str {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Ok(python) = std::env::var("TEST_PYTHON") {
            return python;
        }
        ["python3", "/usr/bin/python3"]
            .into_iter()
            .find(|p| {
                std::process::Command::new(p)
                    .args(["-c", "import aiosmtpd"])
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .unwrap_or("python3")
            .to_owned()
    })
}

/// An SMTP server run as a child process, killed when dropped.
pub struct SmtpServer {
    /// The loopback port it chose and printed in its ready line.
    pub port: u16,
    folder: MailFolder,
    _dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl SmtpServer {
    /// On a loopback port it binds itself. For a server that is down first and comes up
    /// later, put a [`TcpProxy`](crate::proxy::TcpProxy) in front of it.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = tokio::process::Command::new(python())
            .arg(SCRIPT)
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the SMTP server (python3 with aiosmtpd: .ci/run installs it)");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(15), lines.next_line()).await;
        let port = match &ready {
            Ok(Ok(Some(line))) => line.strip_prefix("ready ").and_then(|p| p.parse().ok()),
            _ => None,
        };
        let Some(port) = port else {
            panic!("SMTP server did not start: {ready:?} (is aiosmtpd installed?)");
        };
        Self {
            port,
            folder: MailFolder::new(dir.path()),
            _dir: dir,
            _child: child,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `SMTP_URL` for it: plain SMTP, as to a local relay.
    pub fn url(&self) -> String {
        smtp_url(self.port)
    }

    /// Where it writes each mail it receives, as an `.eml` file.
    pub fn folder(&self) -> &MailFolder {
        &self.folder
    }
}

/// `SMTP_URL` for a server on `port` of loopback.
pub fn smtp_url(port: u16) -> String {
    format!("smtp://127.0.0.1:{port}")
}

/// A folder of `.eml` files, one message each.
#[derive(Debug, Clone)]
pub struct MailFolder(PathBuf);

impl MailFolder {
    /// The `.eml` files in `path`: the SMTP server's, or a service's `MAIL_OUTBOX_DIR`.
    pub fn new(path: &Path) -> Self {
        Self(path.to_owned())
    }

    /// Every message so far, oldest first (by file name, then modification time).
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.0) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .map(|p| {
                (
                    std::fs::metadata(&p)
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH),
                    p,
                )
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Waits until at least `n` messages are there (up to `timeout`), and answers them.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n || tokio::time::Instant::now() >= deadline {
                assert!(
                    messages.len() >= n,
                    "{} of {n} messages arrived within {timeout:?}",
                    messages.len()
                );
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The token of the link in a message: what follows `token=`.
pub fn link_token(message: &str) -> String {
    let start = message.find("token=").expect("a link with a token") + "token=".len();
    message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect()
}

/// A header's value (the first of that name), unfolded.
pub fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next().unwrap_or(message);
    let prefix = format!("{}:", name.to_ascii_lowercase());
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_owned())
}
