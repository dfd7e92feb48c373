//! The floor server of the load suite: `todo.v1.TodoService` answered from memory.
//!
//! `--mode bare`: plain tonic, nothing else (the floor on this machine).
//! `--mode auth`: the same behind the todo-service's real authentication layer (JWT;
//! no revocation feed, as with no AUTH_SERVICE_URL).
//! `--mode shell`: behind that layer and inside the services' real server shell
//! (`common::server::serve`: CORS, the per-call log line and metrics, gRPC-Web, load
//! shedding; health, reflection), logging as the services do.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use clap::{Parser, ValueEnum};
use common::bearer::Authenticated;
use todo_grpc_proto::todo::v1::todo_service_server::TodoServiceServer;
use todo_service::{authn::TodoAuth, revocation_follower::Revocations};
use token::{AccessTokens, JwtSecret, TokenSettings};
use tonic::transport::{Server, server::TcpIncoming};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    Bare,
    Auth,
    Shell,
}

/// Echo todo-service for the benchmark floor.
#[derive(Parser, Debug)]
struct Args {
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:50060")]
    listen_addr: SocketAddr,
    #[arg(long, value_enum, default_value = "bare")]
    mode: Mode,
    /// Secret of the authentication layer (modes auth and shell).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, default_value = bench::SECRET)]
    jwt_secret: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let secret = JwtSecret::new(args.jwt_secret.into_bytes())?;
    let tokens = Arc::new(AccessTokens::new(
        &secret,
        &[],
        TokenSettings {
            issuer: "todo-grpc-auth".into(),
            audience: "todo-grpc".into(),
            access_ttl: Duration::ZERO,
        },
    ));
    let listener = tokio::net::TcpListener::bind(args.listen_addr).await?;
    eprintln!("echo ({:?}) on {}", args.mode, listener.local_addr()?);
    let echo = TodoServiceServer::new(bench::echo::Echo);
    let auth = TodoAuth::new(tokens, Revocations::new(None)?);
    match args.mode {
        Mode::Bare => {
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            Server::builder()
                .add_service(echo)
                .serve_with_incoming_shutdown(incoming, common::server::shutdown_signal())
                .await?;
        }
        Mode::Auth => {
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            Server::builder()
                .add_service(Authenticated::new(echo, auth))
                .serve_with_incoming_shutdown(incoming, common::server::shutdown_signal())
                .await?;
        }
        Mode::Shell => {
            // The services' logging too: one line per call at `info`, as they write it.
            let _logs = common::telemetry::init("echo");
            let (routes, _reporter) = common::server::base_routes(
                todo_service::SERVICE_NAME,
                todo_grpc_proto::FILE_DESCRIPTOR_SET,
            )?;
            let routes = routes.add_service(Authenticated::new(echo, auth));
            common::server::serve(
                listener,
                routes,
                common::cors::cors_layer(&[])?,
                &common::server::Limits {
                    grace: Duration::from_secs(1),
                    ..Default::default()
                },
                common::server::served_methods(todo_service::SERVICE_NAME)?,
                common::server::shutdown_signal(),
            )
            .await?;
        }
    }
    Ok(())
}
