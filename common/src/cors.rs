//! Which browser origins may call over gRPC-Web (`CORS_ALLOWED_ORIGINS`), and what the
//! browser may send and read.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::ConfigError;

/// CORS for gRPC-Web: listed origins only (none grants nothing), the request headers a
/// gRPC-Web client sends, and the gRPC trailers-as-headers it must be able to read.
pub fn cors_layer(origins: &[String]) -> Result<CorsLayer, ConfigError> {
    let origins = origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .map(|o| {
            if o == "*" {
                return Err(ConfigError::Invalid(
                    "CORS_ALLOWED_ORIGINS: list origins explicitly; `*` cannot carry credentials".into(),
                ));
            }
            HeaderValue::from_str(o.trim_end_matches('/'))
                .map_err(|_| ConfigError::Invalid(format!("CORS_ALLOWED_ORIGINS: bad origin {o:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let header = HeaderName::from_static;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header("authorization"),
            header("content-type"),
            header("x-grpc-web"),
            header("x-user-agent"),
            header("grpc-timeout"),
            header("x-request-id"),
        ])
        .expose_headers([
            header("grpc-status"),
            header("grpc-message"),
            header("grpc-status-details-bin"),
            // The id to quote in a bug report.
            header("x-request-id"),
        ])
        .max_age(Duration::from_secs(3600)))
}
