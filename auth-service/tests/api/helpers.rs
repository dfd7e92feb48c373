use testkit::{Backend, Running, TestDb};
use todo_grpc_proto::auth::v1::auth_service_client::AuthServiceClient;
use tonic::transport::Channel;

pub use testkit::assert_status;

/// A running auth-service with its database and a connected client.
pub struct TestApp {
    pub client: AuthServiceClient<Channel>,
    pub server: Running,
    /// Kept so the database outlives the server.
    pub _db: TestDb,
}

/// Like [`spawn_app_with`], telling time by `clock` (a manual one the test moves), so a
/// rule about time is tested without waiting for it.
pub async fn spawn_app_on(
    clock: &common::time::Clock,
    backend: Backend,
    tweak: impl FnOnce(&mut auth_service::Config),
) -> TestApp {
    spawn_app_with(backend, |c| {
        c.server.clock = clock.clone();
        tweak(c);
    })
    .await
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut auth_service::Config)) -> TestApp {
    let db = TestDb::new(backend).await;
    let mut config = testkit::auth_config(&db.url);
    tweak(&mut config);
    let server = testkit::spawn_auth(config).await;
    let client = testkit::auth_client(server.addr).await;
    TestApp {
        client,
        server,
        _db: db,
    }
}
