//! Builds the todo-service from its configuration: database, token verifier, routes.

use crate::{
    authn::TodoAuth, config::Config, domain::PageTokens, grpc::TodoGrpc, revocation_follower::Revocations,
    store::Store,
};
use common::server::{self, Application, StartupError};
use todo_grpc_proto::todo::v1::todo_service_server::TodoServiceServer;

/// Fully qualified name of the service, for health and reflection.
pub const SERVICE_NAME: &str = "todo.v1.TodoService";

/// Largest request accepted; larger ones are refused from the length prefix, unread.
/// A todo at its limits (200 + 2,000 characters of up to 4 bytes) fits well within.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Checks the configuration, opens and migrates the database, binds the listener.
pub async fn build(config: Config) -> Result<Application, StartupError> {
    // This service only verifies; the lifetime is the issuer's business.
    let (secret, previous, tokens) = config.jwt.access_tokens(std::time::Duration::ZERO)?;
    // Certificate problems stop start-up before the database is touched.
    let auth_tls = config.auth_service_tls()?;
    let pool = common::db::connect(&config.database_url, &config.server.pool_settings(), &MIGRATOR).await?;
    let page_tokens = PageTokens::new(
        secret.derive("page-token"),
        previous.iter().map(|s| s.derive("page-token")).collect(),
    );
    let revocations = Revocations::connect(config.auth_service_url.as_deref(), auth_tls.as_ref())
        .map_err(StartupError::Other)?;
    let store = Store::new(pool.clone(), config.create_limits());
    let feed_task = revocations.start(tokens.clone(), store.clone());
    if feed_task.is_none() {
        tracing::warn!("AUTH_SERVICE_URL is not set: revoked tokens stay valid here until they expire");
    }
    let service = common::bearer::Authenticated::new(
        // gzip and zstd both ways; the handlers send only large replies compressed.
        common::compressed!(TodoServiceServer::new(TodoGrpc::new(store, page_tokens)))
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
        TodoAuth::new(tokens, revocations),
    );

    let (routes, reporter) = server::base_routes(SERVICE_NAME, todo_grpc_proto::FILE_DESCRIPTOR_SET)?;
    let app = Application::bind(
        SERVICE_NAME,
        (routes.add_service(service), reporter),
        pool,
        config.listen_addr,
        &config.server,
    )
    .await?;
    let app = match feed_task {
        Some(task) => app.with_task(task),
        None => app,
    };
    tracing::info!(
        addr = %app.local_addr(),
        database = common::db::backend(&config.database_url),
        kid = secret.key_id(),
        "todo-service ready"
    );
    Ok(app)
}
