//! Builds the todo-service from its configuration: database, token verifier, routes.

use crate::{
    authn::TodoAuth, config::Config, domain::PageTokens, grpc::TodoGrpc, revocation_follower::Revocations,
    store::Store,
};
use common::{
    config::Keys,
    server::{self, Application, StartupError},
};
use todo_grpc_proto::todo::v1::todo_service_server::TodoServiceServer;

/// Fully qualified name of the service, for health and reflection.
pub const SERVICE_NAME: &str = "todo.v1.TodoService";

/// The schema. Public so the load benchmark's bulk loader fills the very tables the
/// service reads.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Checks the configuration, opens and migrates the database, binds the listener.
pub async fn build(config: Config) -> Result<Application, StartupError> {
    // This service only verifies; the lifetime is the issuer's business.
    let clock = config.server.clock.clone();
    let Keys {
        secret,
        previous,
        tokens,
    } = config.jwt.keys(std::time::Duration::ZERO, &clock)?;
    // Certificate problems stop start-up before the database is touched.
    let auth_tls = config.auth_service_tls()?;
    let pool = common::db::connect(&config.database_url, &config.server.pool_settings(), &MIGRATOR).await?;
    let page_tokens = PageTokens::new(
        secret.derive("page-token"),
        previous.iter().map(|s| s.derive("page-token")).collect(),
    );
    let revocations = Revocations::connect(config.auth_service_url.as_deref(), auth_tls.as_ref())
        .map_err(StartupError::Other)?;
    let store = Store::new(pool.clone(), &config.database_url, config.create_limits())
        .map_err(|e| StartupError::Other(format!("opening the database for reads: {e}")))?;
    let feed_task = revocations.start(tokens.clone(), store.clone());
    if feed_task.is_none() {
        tracing::warn!("AUTH_SERVICE_URL is not set: revoked tokens stay valid here until they expire");
    }
    let service = common::bearer::Authenticated::new(
        // gzip and zstd both ways; the handlers send only large replies compressed.
        common::compressed!(TodoServiceServer::new(TodoGrpc::new(store, page_tokens, clock)))
            .max_decoding_message_size(server::MAX_MESSAGE_BYTES),
        TodoAuth::new(tokens, revocations),
    );

    let app = Application::serve(
        SERVICE_NAME,
        todo_grpc_proto::FILE_DESCRIPTOR_SET,
        service,
        pool,
        config.listen_addr,
        &config.server,
    )
    .await?
    .with_task(feed_task);
    app.log_ready("todo-service", &config.database_url, &secret.key_id());
    Ok(app)
}
