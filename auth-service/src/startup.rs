//! Builds the auth-service from its configuration: database, hasher, token keys, routes.

use common::{
    client_addr::TrustedProxies,
    config::Keys,
    server::{self, Application, StartupError},
};
use todo_grpc_proto::auth::v1::auth_service_server::AuthServiceServer;
use tonic::codec::CompressionEncoding;

use std::sync::Arc;

use crate::{
    accounts::{Accounts, Mailer},
    authn::AuthServiceAuth,
    config::Config,
    grpc::AuthGrpc,
    mail::{self, sender::Delivery},
    password::{HashParams, Hasher},
    prune,
    revocation_feed::RevocationFeed,
    store::Store,
    throttle::Throttle,
};

/// Fully qualified name of the service, for health and reflection.
pub const SERVICE_NAME: &str = "auth.v1.AuthService";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Checks the configuration, opens and migrates the database, binds the listener.
pub async fn build(config: Config) -> Result<Application, StartupError> {
    let clock = config.server.clock.clone();
    let Keys { secret, tokens, .. } = config.jwt.keys(config.access_token_ttl, &clock)?;
    let pool = common::db::connect(&config.database_url, &config.server.pool_settings(), &MIGRATOR).await?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hasher = Hasher::new(
        HashParams {
            memory_kib: config.argon2_memory_kib,
            iterations: config.argon2_iterations,
            parallelism: 1,
        },
        config.max_concurrent_hashes.unwrap_or(cores),
        config.max_hash_queue,
        config.hash_queue_timeout,
    )
    .map_err(|e| StartupError::Other(e.to_string()))?;
    let store = Store::new(pool.clone());
    let throttle = Throttle::new(store.clone(), config.throttle(), clock.clone());
    let mut accounts = Accounts::new(
        store.clone(),
        hasher,
        tokens.clone(),
        throttle,
        config.refresh_token_ttl,
        clock.clone(),
    )
    .with_session_max_lifetime(config.session_max_lifetime);
    let delivery = Delivery::from_args(&config.mail).map_err(StartupError::Other)?;
    let mut sender_task = None;
    match delivery {
        Some(delivery) => {
            let mail_settings = config.mail.settings().map_err(StartupError::Other)?;
            tracing::info!(delivery = %delivery.description, "email delivery configured");
            let wake = Arc::new(tokio::sync::Notify::new());
            sender_task = Some(mail::sender::start(
                store.clone(),
                Arc::new(delivery),
                wake.clone(),
                clock.clone(),
            ));
            accounts = accounts.with_mailer(Mailer {
                settings: mail_settings,
                wake,
            });
        }
        None => tracing::warn!(
            "email delivery is not configured (SMTP_URL or MAIL_OUTBOX_DIR): email verification and \
             password reset answer FAILED_PRECONDITION"
        ),
    }
    // Every token issued before a revocation has expired once this much time has passed.
    let horizon = config.revocation_horizon();
    let (drain, draining) = tokio::sync::watch::channel(false);
    let (feed, feed_task) = RevocationFeed::start(store, horizon, draining, clock.clone());
    let grpc = AuthGrpc::new(accounts.clone(), feed)
        .with_trusted_proxies(TrustedProxies::new(config.trusted_proxies.clone()));
    let service = common::bearer::Authenticated::new(
        // Compressed requests are taken (gzip, zstd); replies go uncompressed: each is
        // well under a kilobyte, where compression does not pay, and most carry tokens,
        // which are better not compressed beside caller-chosen text (CRIME-style leaks).
        AuthServiceServer::new(grpc)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(server::MAX_MESSAGE_BYTES),
        AuthServiceAuth::new(accounts, tokens),
    );
    let prune_task = prune::start(pool.clone(), config.prune(), config.prune_interval, clock);

    let app = Application::serve(
        SERVICE_NAME,
        todo_grpc_proto::FILE_DESCRIPTOR_SET,
        service,
        pool,
        config.listen_addr,
        &config.server,
    )
    .await?
    .with_task(feed_task)
    .with_task(prune_task)
    .with_task(sender_task)
    .with_drain(drain);
    app.log_ready("auth-service", &config.database_url, &secret.key_id());
    Ok(app)
}
