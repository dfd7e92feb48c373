//! SIGTERM under load: in-flight calls finish, then the process exits cleanly.

use std::time::Duration;

use testkit::{Backend, ChildService, TestDb};
use todo_grpc_proto::auth::v1 as pb;

/// The environment of the auth-service binary on `db`: the test secret and `extra`.
fn binary_env<'a>(db: &TestDb, extra: &[(&'a str, &str)]) -> Vec<(&'a str, String)> {
    let mut env = vec![
        ("DATABASE_URL", db.url.clone()),
        ("JWT_SECRET", testkit::TEST_SECRET.to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    env
}

/// The auth-service binary on `db` with the test secret and `extra` settings.
async fn start_binary(db: &TestDb, extra: &[(&str, &str)]) -> ChildService {
    ChildService::start(env!("CARGO_BIN_EXE_auth-service"), &binary_env(db, extra)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_calls() {
    let db = TestDb::new(Backend::Sqlite).await;
    // One hash at a time, so the logins below are still running when SIGTERM comes.
    // More concurrent attempts for one name than LOGIN_MAX_FAILURES lock it, whatever
    // the passwords: raised, as this is about shutdown.
    let mut service = start_binary(
        &db,
        &[("MAX_CONCURRENT_HASHES", "1"), ("LOGIN_MAX_FAILURES", "1000")],
    )
    .await;
    let mut client = testkit::auth_client(service.addr).await;
    testkit::register_and_login(&mut client, "patient", "patient's password").await;
    let logins: Vec<_> = (0..6)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move {
                client
                    .login(pb::LoginRequest {
                        username: "patient".into(),
                        password: "patient's password".into(),
                    })
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    service.signal("TERM");
    for login in logins {
        let result = login.await.unwrap();
        assert!(result.is_ok(), "an in-flight login was dropped: {result:?}");
    }
    let status = tokio::time::timeout(Duration::from_secs(15), service.child.wait())
        .await
        .expect("exits within the grace period")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// The threads and memory of `pid`: (names of its threads, peak resident KiB).
fn threads_and_peak(pid: u32) -> (Vec<String>, u64) {
    let names = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| {
            dir.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|n| n.trim().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let peak = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (names, peak)
}

/// A login flood hashes on exactly MAX_CONCURRENT_HASHES threads, and memory stays near
/// that many 19 MiB hash buffers. (On tokio's blocking pool it grew a thread, and a glibc
/// arena holding a buffer, whenever a hash ended as the next began: 528 MiB resident.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flood_uses_a_fixed_set_of_hash_threads() {
    let db = TestDb::new(Backend::Sqlite).await;
    let service = start_binary(
        &db,
        &[
            ("MAX_CONCURRENT_HASHES", "2"),
            ("MAX_HASH_QUEUE", "64"),
            ("HASH_QUEUE_TIMEOUT", "60s"),
            // 12 concurrent logins for one name would otherwise lock it.
            ("LOGIN_MAX_FAILURES", "1000"),
        ],
    )
    .await;
    let pid = service.child.id().expect("running");
    let client = testkit::auth_client(service.addr).await;
    testkit::register_and_login(&mut client.clone(), "flood", "flood's password").await;
    let flood: Vec<_> = (0..12)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    let request = pb::LoginRequest {
                        username: "flood".into(),
                        password: "flood's password".into(),
                    };
                    client.login(request).await.map(|_| ())?;
                }
                Ok::<_, tonic::Status>(())
            })
        })
        .collect();
    let mut hash_threads = std::collections::BTreeSet::new();
    let mut busy = true;
    while busy {
        let (names, _) = threads_and_peak(pid);
        hash_threads.extend(names.into_iter().filter(|n| n.starts_with("argon2-")));
        busy = !flood.iter().all(|task| task.is_finished());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for task in flood {
        task.await.unwrap().expect("every login of the flood succeeds");
    }
    let (names, peak_kib) = threads_and_peak(pid);
    assert_eq!(
        hash_threads.into_iter().collect::<Vec<_>>(),
        ["argon2-0", "argon2-1"],
        "threads: {names:?}"
    );
    eprintln!("login flood: peak resident {} MiB", peak_kib / 1024);
    // 2 × 19 MiB of hash memory plus the rest of the (debug) binary; 60 hashes on
    // fresh threads and arenas would be hundreds of MiB.
    assert!(
        peak_kib > 0 && peak_kib < 120 * 1024,
        "peak resident {} MiB",
        peak_kib / 1024
    );
}

/// Log lines are written by a thread of their own: each call's line reaches stdout by the
/// time the process has exited on SIGTERM, without colour codes (stdout is a pipe), and
/// none carries a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_reach_stdout_without_colour_or_secrets() {
    use tokio::io::AsyncReadExt as _;
    let db = TestDb::new(Backend::Sqlite).await;
    let mut service =
        ChildService::start_logging(env!("CARGO_BIN_EXE_auth-service"), &binary_env(&db, &[])).await;
    let mut client = testkit::auth_client(service.addr).await;
    let pair = testkit::register_and_login(&mut client, "logged", "logged's password").await;
    service.signal("TERM");
    let mut stdout = service.logs();
    let mut logs = String::new();
    tokio::time::timeout(Duration::from_secs(15), stdout.read_to_string(&mut logs))
        .await
        .expect("exits within the grace period")
        .expect("read the logs");
    for rpc in ["/auth.v1.AuthService/Register", "/auth.v1.AuthService/Login"] {
        assert!(
            logs.lines()
                .any(|l| l.contains("rpc finished") && l.contains(rpc)),
            "no log line for {rpc}:\n{logs}"
        );
    }
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in a log that is not a terminal"
    );
    // Without an OTLP endpoint the span's OpenTelemetry name and kind are not recorded,
    // so a log line names its call once, not twice.
    assert!(
        !logs.contains("otel."),
        "OpenTelemetry fields in a log without traces:\n{logs}"
    );
    for secret in [
        testkit::TEST_SECRET,
        "logged's password",
        pair.access_token.as_str(),
    ] {
        assert!(!logs.contains(secret), "a secret in the logs");
    }
}
