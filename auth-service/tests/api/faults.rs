//! SIGTERM under load: in-flight calls finish, then the process exits cleanly.

use std::time::Duration;

use testkit::{Backend, ChildService, TestDb};
use todo_grpc_proto::auth::v1 as pb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_calls() {
    let db = TestDb::new(Backend::Sqlite).await;
    let env = [
        ("DATABASE_URL", db.url.clone()),
        ("JWT_SECRET", testkit::TEST_SECRET.to_owned()),
        // One hash at a time, so the logins below are still running when SIGTERM comes.
        ("MAX_CONCURRENT_HASHES", "1".to_owned()),
    ];
    let mut service = ChildService::start(env!("CARGO_BIN_EXE_auth-service"), &env).await;
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
