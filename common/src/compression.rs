//! Message compression: gzip and zstd, accepted on every service and sent when the
//! client accepts it and the message is large enough for it to pay.
//!
//! tonic compresses every response message once a service sends compressed, with no
//! size threshold; a unary response can opt out (`Response::disable_compression`), which
//! [`response`] does below [`MIN_COMPRESSED_BYTES`]. Streams cannot opt out per message:
//! reflection (file descriptors, kilobytes) is compressed whenever the client asks,
//! health (two bytes) never.

use tonic::Response;

/// Below this a message is sent as it is: gzip's own framing (18 bytes) and the CPU
/// would cost more than the few bytes saved. A `ListTodos` page or a long description
/// is over it; an id, a token pair or an empty reply is under.
pub const MIN_COMPRESSED_BYTES: usize = 1024;

/// A unary response, compressed (if the client accepts it) only when large enough.
pub fn response<M: prost::Message>(message: M) -> Response<M> {
    let small = message.encoded_len() < MIN_COMPRESSED_BYTES;
    let mut response = Response::new(message);
    if small {
        response.disable_compression();
    }
    response
}

/// Turns on gzip and zstd, both ways, on a generated tonic server: accepted in requests,
/// sent when the client's `grpc-accept-encoding` names one (its first choice that the
/// server has).
#[macro_export]
macro_rules! compressed {
    ($server:expr) => {{
        use ::tonic::codec::CompressionEncoding;
        $server
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Zstd)
    }};
}
