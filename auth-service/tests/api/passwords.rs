//! New passwords: the repetitive ones NIST SP 800-63B asks to refuse; stored hashes: made
//! with weaker parameters than configured, they are upgraded at the next login.

use sqlx::Row;
use testkit::{Backend, TestDb, bearer, both_backends};
use todo_grpc_proto::auth::v1 as pb;
use tonic::Code;

use crate::helpers::{assert_status, spawn_app};

both_backends!(
    repetitive_passwords_are_refused,
    weaker_hashes_are_upgraded_at_login,
);

async fn repetitive_passwords_are_refused(backend: Backend) {
    let mut app = spawn_app(backend).await;
    for (password, why) in [
        (" ".repeat(8), "whitespace"),
        ("\t \n ".repeat(3), "whitespace"),
        ("kkkkkkkkkkkk".to_owned(), "repeated"),
    ] {
        assert_status(
            app.client
                .register(pb::RegisterRequest {
                    username: "spacey".into(),
                    password,
                    ..Default::default()
                })
                .await,
            Code::InvalidArgument,
            &format!(
                "password: must not be {}",
                if why == "whitespace" {
                    "only spaces"
                } else {
                    "one character"
                }
            ),
        );
    }
    let pair = testkit::register_and_login(&mut app.client, "spacey", "a fine password").await;
    assert_status(
        app.client
            .change_password(bearer(
                pb::ChangePasswordRequest {
                    current_password: "a fine password".into(),
                    new_password: " ".repeat(10),
                },
                &pair.access_token,
            ))
            .await,
        Code::InvalidArgument,
        "new_password",
    );
}

async fn stored_hash(db: &TestDb, username: &str) -> String {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let row = sqlx::query("SELECT password_hash FROM users WHERE username_key = $1")
        .bind(username)
        .fetch_one(&pool)
        .await
        .unwrap();
    row.get("password_hash")
}

async fn weaker_hashes_are_upgraded_at_login(backend: Backend) {
    let db = TestDb::new(backend).await;
    let login = || pb::LoginRequest {
        username: "upgraded".into(),
        password: "upgraded's password".into(),
    };
    let mut config = testkit::auth_config(&db.url);
    config.argon2_iterations = 2;
    let old = testkit::spawn_auth(config).await;
    let pair = testkit::register_and_login(
        &mut testkit::auth_client(old.addr).await,
        "upgraded",
        "upgraded's password",
    )
    .await;
    assert!(stored_hash(&db, "upgraded").await.contains("$m=19456,t=2,p=1$"));

    // A replica configured with more iterations, on the same database.
    let mut config = testkit::auth_config(&db.url);
    config.argon2_iterations = 3;
    let new = testkit::spawn_auth(config).await;
    let mut client = testkit::auth_client(new.addr).await;
    client.login(login()).await.unwrap();
    let hash = stored_hash(&db, "upgraded").await;
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=3,p=1$"), "{hash}");
    // The password still works, on both, and the sessions were not revoked.
    client.login(login()).await.unwrap();
    testkit::auth_client(old.addr).await.login(login()).await.unwrap();
    client
        .get_me(bearer(pb::GetMeRequest {}, &pair.access_token))
        .await
        .unwrap();
    assert_eq!(stored_hash(&db, "upgraded").await, hash, "upgraded once");
}
