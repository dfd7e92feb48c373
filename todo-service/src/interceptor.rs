//! The JWT interceptor: every todo RPC passes through it. It verifies the bearer token
//! locally with the shared secret (no call to the auth-service) and hands the
//! authenticated user to the handlers in the request extensions.

use std::sync::Arc;

use common::{bearer, token::AccessTokens};
use tonic::{Request, Status, service::Interceptor};

#[derive(Clone)]
pub struct Authenticate {
    tokens: Arc<AccessTokens>,
}

impl Authenticate {
    pub fn new(tokens: Arc<AccessTokens>) -> Self {
        Self { tokens }
    }
}

impl Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let user = bearer::authenticate(&self.tokens, request.metadata())?;
        request.extensions_mut().insert(user);
        Ok(request)
    }
}
