//! `grpc.health.v1.Health` as the health checking protocol describes it.
//!
//! tonic-health ends a `Watch` of a service it does not know with `NOT_FOUND`; the
//! protocol says to send `SERVICE_UNKNOWN` and keep the stream open, then send the
//! service's status should it appear (a load balancer may watch before the service is
//! registered). `Check` of an unknown service is `NOT_FOUND`, as there.

use std::{collections::HashMap, pin::Pin, sync::Arc};

use futures::Stream;
use tokio::sync::watch;
use tonic::{Request, Response, Status};
use tonic_health::pb::{
    HealthCheckRequest, HealthCheckResponse,
    health_check_response::ServingStatus as Wire,
    health_server::{Health, HealthServer},
};

pub use tonic_health::ServingStatus;

type Statuses = HashMap<String, Wire>;

/// Sets the statuses the health service reports. `""` (the whole server) starts SERVING.
#[derive(Clone, Debug)]
pub struct HealthReporter {
    statuses: Arc<watch::Sender<Statuses>>,
}

impl HealthReporter {
    /// A reporter and the health service that serves what it reports.
    pub fn new() -> (Self, HealthServer<HealthService>) {
        let (tx, rx) = watch::channel(HashMap::from([(String::new(), Wire::Serving)]));
        let reporter = Self {
            statuses: Arc::new(tx),
        };
        (reporter, HealthServer::new(HealthService { statuses: rx }))
    }

    /// Sets the status of `service` (registering it if new); watchers hear of changes.
    pub async fn set_service_status(&self, service: &str, status: ServingStatus) {
        let status = Wire::from(status);
        self.statuses
            .send_if_modified(|statuses| statuses.insert(service.to_owned(), status) != Some(status));
    }
}

/// The `grpc.health.v1.Health` service of a [`HealthReporter`].
#[derive(Debug)]
pub struct HealthService {
    statuses: watch::Receiver<Statuses>,
}

fn reply(status: Wire) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status as i32,
    }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let status = self.statuses.borrow().get(&request.get_ref().service).copied();
        status
            .map(|s| Response::new(reply(s)))
            .ok_or_else(|| Status::not_found("service not registered"))
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send + 'static>>;

    /// The current status at once (`SERVICE_UNKNOWN` for a service not registered), then
    /// each change, until the server stops.
    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let service = request.into_inner().service;
        let statuses = self.statuses.clone();
        let stream = futures::stream::unfold((statuses, None::<Wire>), move |(mut statuses, last)| {
            let service = service.clone();
            async move {
                loop {
                    let now = statuses
                        .borrow_and_update()
                        .get(&service)
                        .copied()
                        .unwrap_or(Wire::ServiceUnknown);
                    if Some(now) != last {
                        return Some((Ok(reply(now)), (statuses, Some(now))));
                    }
                    // Nothing new for this service (another one changed): wait again.
                    if statuses.changed().await.is_err() {
                        return None;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_health::pb::health_client::HealthClient;

    /// Served on loopback and watched through the generated client: an unknown service
    /// is SERVICE_UNKNOWN on an open stream, and its status follows when it appears.
    #[tokio::test]
    async fn watch_of_an_unknown_service_waits_for_it() {
        let (reporter, service) = HealthReporter::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = HealthClient::new(channel);
        let watch = |service: &str| HealthCheckRequest {
            service: service.to_owned(),
        };

        let mut stream = client.watch(watch("later.v1.Later")).await.unwrap().into_inner();
        let first = stream.message().await.unwrap().unwrap();
        assert_eq!(first.status, Wire::ServiceUnknown as i32);
        // Another service changing is no news for this stream.
        reporter
            .set_service_status("other.v1.Other", ServingStatus::NotServing)
            .await;
        reporter
            .set_service_status("later.v1.Later", ServingStatus::Serving)
            .await;
        let next = stream.message().await.unwrap().unwrap();
        assert_eq!(next.status, Wire::Serving as i32);
        reporter
            .set_service_status("later.v1.Later", ServingStatus::NotServing)
            .await;
        let next = stream.message().await.unwrap().unwrap();
        assert_eq!(next.status, Wire::NotServing as i32);

        let status = client.check(watch("unknown.v1.Unknown")).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::NotFound);
        let ok = client.check(watch("")).await.unwrap().into_inner();
        assert_eq!(ok.status, Wire::Serving as i32);
        server.abort();
    }
}
