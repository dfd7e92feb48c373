//! `auth.v1.AuthService` handlers: parse the request into domain values, call
//! [`Accounts`], convert the answer. Errors become statuses in `error`.

use std::{net::IpAddr, sync::Arc};

use common::{client_addr::TrustedProxies, time};
use todo_grpc_proto::auth::v1::{self as pb, auth_service_server::AuthService};
use token::{SessionId, ids::Id};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::{
    accounts::{Accounts, Origin, Session},
    authn::{calling_service, signed_in},
    domain::{Email, Password, Username, Violation},
    error::AuthError,
    events::{ClientInfo, EventKind},
    revocation_feed::RevocationFeed,
    store::UserRecord,
};

/// The cookie that carries the refresh token for browsers, scoped to this service.
/// `__Secure-`: browsers accept it only with `Secure`, from a secure origin, so a page
/// served over plain HTTP on the site cannot set or overwrite it. (`__Host-` would also
/// refuse one set for a parent domain, but it requires `Path=/`, and the path is what
/// keeps the cookie off every call that is not to this service.)
const COOKIE: &str = "__Secure-refresh_token";
const COOKIE_ATTRIBUTES: &str = "HttpOnly; Secure; SameSite=Strict; Path=/auth.v1.AuthService/";

/// Longest refresh or access token accepted in a request body.
const MAX_TOKEN_FIELD: usize = token::MAX_TOKEN_BYTES;

/// The handlers. Callers were authenticated before any of these runs (see `authn`).
pub struct AuthGrpc {
    accounts: Accounts,
    revocations: Arc<RevocationFeed>,
    /// Peers whose forwarding headers name the client (`TRUSTED_PROXIES`).
    proxies: TrustedProxies,
}

impl AuthGrpc {
    /// The handlers over `accounts`, serving `WatchRevocations` from `revocations`; no
    /// proxy trusted until [`Self::with_trusted_proxies`].
    pub fn new(accounts: Accounts, revocations: Arc<RevocationFeed>) -> Self {
        Self {
            accounts,
            revocations,
            proxies: TrustedProxies::default(),
        }
    }

    /// Believes `forwarded` / `x-forwarded-for` from these peers.
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Where a signed-in call came from, for the throttle and the history.
    fn origin<T>(&self, request: &Request<T>, session: SessionId) -> Origin {
        Origin {
            addr: self.client_ip(request),
            client: self.client_info(request),
            session,
        }
    }

    /// What the security history records of the caller: address and user agent.
    fn client_info<T>(&self, request: &Request<T>) -> ClientInfo {
        let user_agent = request.metadata().get("user-agent").and_then(|v| v.to_str().ok());
        ClientInfo::new(self.client_ip(request), user_agent)
    }

    /// The client's IP address, for throttling (see `common::client_addr`).
    fn client_ip<T>(&self, request: &Request<T>) -> Option<IpAddr> {
        let headers = |name| {
            request
                .metadata()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
        };
        self.proxies.client_addr(
            request.remote_addr().map(|a| a.ip()),
            headers("forwarded"),
            headers("x-forwarded-for"),
        )
    }
}

fn user_to_pb(user: &UserRecord) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        username: user.username.clone(),
        create_time: Some(time::micros_to_timestamp(user.create_time)),
        email: user.email.clone().unwrap_or_default(),
        email_verified: user.email_verified,
    }
}

/// Whether the call came from a browser: gRPC-Web with an `Origin` header, which
/// browsers send on every POST. Browsers get the refresh token only as an HttpOnly
/// cookie, out of reach of page script, never in the response body. Other gRPC-Web
/// clients (a proxy, a script) have no cookie jar: they get it in the body, as gRPC
/// clients do.
fn is_browser<T>(request: &Request<T>) -> bool {
    request
        .extensions()
        .get::<common::server::GrpcWebRequest>()
        .is_some()
        && request.metadata().contains_key("origin")
}

/// The refresh token from the request's cookie, if any. More than one is refused, not
/// resolved: a sibling subdomain can plant its own for the parent domain, and taking
/// the first would let it choose the session (the browser's order is no defence).
fn cookie_token<T>(request: &Request<T>) -> Result<Option<String>, AuthError> {
    let mut found = request
        .metadata()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned());
    let first = found.next();
    if found.next().is_some() {
        return Err(Violation::new("refresh_token", "more than one refresh cookie was sent").into());
    }
    Ok(first)
}

/// The token from the body, or for browsers from the cookie when the body has none.
/// `None` when a browser has neither: it simply has no session.
fn presented_token<T>(request: &Request<T>, body: &str) -> Result<Option<String>, AuthError> {
    let token = match (body.is_empty(), is_browser(request)) {
        (true, true) => match cookie_token(request)? {
            Some(token) => token,
            None => return Ok(None),
        },
        _ => body.to_owned(),
    };
    token_field("refresh_token", &token).map(|t| Some(t.to_owned()))
}

fn set_cookie<T>(response: &mut Response<T>, value: &str, max_age_secs: u64) {
    let cookie = format!("{COOKIE}={value}; Max-Age={max_age_secs}; {COOKIE_ATTRIBUTES}");
    match cookie.parse() {
        Ok(v) => {
            response.metadata_mut().insert("set-cookie", v);
        }
        Err(_) => tracing::error!("refresh cookie is not a valid header value"),
    }
}

/// The response for a new session: the pair, and for browsers the cookie instead of
/// the body's refresh token.
fn session_response(session: Session, browser: bool) -> Response<pb::TokenPair> {
    let max_age = session.refresh_expires_in.as_secs();
    let mut body = pair(session);
    if !browser {
        return Response::new(body);
    }
    let token = std::mem::take(&mut body.refresh_token);
    let mut response = Response::new(body);
    set_cookie(&mut response, &token, max_age);
    response
}

fn pair(session: Session) -> pb::TokenPair {
    pb::TokenPair {
        access_token: session.access.token,
        token_type: "Bearer".into(),
        expires_in: i64::try_from(session.access.expires_in.as_secs()).unwrap_or(i64::MAX),
        refresh_token: session.refresh.expose().to_owned(),
        refresh_expires_in: i64::try_from(session.refresh_expires_in.as_secs()).unwrap_or(i64::MAX),
    }
}

/// Default and largest page of `ListSecurityEvents` (the contract's).
const EVENT_PAGE_DEFAULT: usize = 50;
const EVENT_PAGE_MAX: usize = 200;

/// 0 means the default; above the maximum is lowered to it (AIP-158).
fn event_page_size(size: i32) -> Result<usize, AuthError> {
    match usize::try_from(size) {
        Ok(0) => Ok(EVENT_PAGE_DEFAULT),
        Ok(n) => Ok(n.min(EVENT_PAGE_MAX)),
        Err(_) => Err(Violation::new("page_size", "must not be negative").into()),
    }
}

/// `ListSecurityEvents` page tokens: where the last page ended, opaque to clients. They
/// need no signature: the query is the caller's own history whatever the token says.
mod event_page_token {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use uuid::Uuid;

    use crate::{domain::Violation, error::AuthError, store::EventCursor};

    pub fn encode((time, id): EventCursor) -> String {
        URL_SAFE_NO_PAD.encode(format!("{time}.{id}"))
    }

    pub fn decode(token: &str) -> Result<Option<EventCursor>, AuthError> {
        if token.is_empty() {
            return Ok(None);
        }
        let bad = || AuthError::from(Violation::new("page_token", "is not a token this service issued"));
        let text = URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let (time, id) = text.split_once('.').ok_or_else(bad)?;
        Ok(Some((
            time.parse().map_err(|_| bad())?,
            Uuid::parse_str(id).map_err(|_| bad())?,
        )))
    }
}

fn event_kind_to_pb(kind: EventKind) -> pb::security_event::Kind {
    use pb::security_event::Kind;
    match kind {
        EventKind::Registered => Kind::Registered,
        EventKind::LoginSucceeded => Kind::LoginSucceeded,
        EventKind::LoginFailed => Kind::LoginFailed,
        EventKind::LoginThrottled => Kind::LoginThrottled,
        EventKind::LoggedOut => Kind::LoggedOut,
        EventKind::LoggedOutAll => Kind::LoggedOutAll,
        EventKind::SessionRevoked => Kind::SessionRevoked,
        EventKind::RefreshReuseDetected => Kind::RefreshReuseDetected,
        EventKind::PasswordChanged => Kind::PasswordChanged,
        EventKind::PasswordResetRequested => Kind::PasswordResetRequested,
        EventKind::PasswordReset => Kind::PasswordReset,
        EventKind::EmailChanged => Kind::EmailChanged,
        EventKind::EmailVerified => Kind::EmailVerified,
    }
}

/// An id field: required and a UUID.
fn id_field<Of>(field: &'static str, value: &str) -> Result<Id<Of>, AuthError> {
    if value.is_empty() {
        return Err(Violation::new(field, "is required").into());
    }
    Id::parse(value).ok_or_else(|| Violation::new(field, "must be a UUID").into())
}

/// A token field: required, and bounded before anything parses it.
fn token_field<'a>(field: &'static str, value: &'a str) -> Result<&'a str, AuthError> {
    if value.is_empty() {
        return Err(Violation::new(field, "is required").into());
    }
    if value.len() > MAX_TOKEN_FIELD {
        return Err(Violation::new(field, format!("must be at most {MAX_TOKEN_FIELD} bytes")).into());
    }
    Ok(value)
}

#[tonic::async_trait]
impl AuthService for AuthGrpc {
    async fn register(
        &self,
        request: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterResponse>, Status> {
        let addr = self.client_ip(&request);
        let client = self.client_info(&request);
        let req = request.into_inner();
        let username = Username::parse("username", &req.username).map_err(AuthError::from)?;
        let password = Password::parse_new("password", req.password).map_err(AuthError::from)?;
        let email = match req.email.as_str() {
            "" => None,
            email => Some(Email::parse("email", email).map_err(AuthError::from)?),
        };
        let user = self
            .accounts
            .register(username, password, email, addr, &client)
            .await?;
        Ok(Response::new(pb::RegisterResponse {
            user: Some(user_to_pb(&user)),
        }))
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Result<Response<pb::TokenPair>, Status> {
        let browser = is_browser(&request);
        let addr = self.client_ip(&request);
        let client = self.client_info(&request);
        let req = request.into_inner();
        if req.username.is_empty() {
            return Err(AuthError::from(Violation::new("username", "is required")).into());
        }
        if req.username.len() > 256 {
            return Err(AuthError::from(Violation::new("username", "is too long")).into());
        }
        let password = Password::parse_given("password", req.password).map_err(AuthError::from)?;
        let session = self
            .accounts
            .login(&req.username, password, addr, &client)
            .await?;
        Ok(session_response(session, browser))
    }

    async fn refresh(&self, request: Request<pb::RefreshRequest>) -> Result<Response<pb::TokenPair>, Status> {
        let token = presented_token(&request, &request.get_ref().refresh_token)?
            .ok_or(AuthError::InvalidRefreshToken)?;
        let session = self.accounts.refresh(&token, &self.client_info(&request)).await?;
        Ok(session_response(session, is_browser(&request)))
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Result<Response<()>, Status> {
        if let Some(token) = presented_token(&request, &request.get_ref().refresh_token)? {
            self.accounts.logout(&token, &self.client_info(&request)).await?;
        }
        let mut response = Response::new(());
        if is_browser(&request) {
            set_cookie(&mut response, "", 0);
        }
        Ok(response)
    }

    async fn verify_token(
        &self,
        request: Request<pb::VerifyTokenRequest>,
    ) -> Result<Response<pb::VerifyTokenResponse>, Status> {
        let req = request.into_inner();
        let token = token_field("access_token", &req.access_token)?;
        let (user, _) = self.accounts.authenticate(token).await?;
        Ok(Response::new(pb::VerifyTokenResponse {
            user_id: user.user_id.to_string(),
            username: user.username,
            expire_time: Some(time::secs_to_timestamp(user.expires_at)),
        }))
    }

    async fn get_me(&self, request: Request<pb::GetMeRequest>) -> Result<Response<pb::User>, Status> {
        let (_, user) = signed_in(&request)?;
        Ok(Response::new(user_to_pb(user)))
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<()>, Status> {
        let (token, caller) = signed_in(&request)?;
        let origin = self.origin(&request, token.session_id);
        let req = request.get_ref();
        let current = Password::parse_given("current_password", req.current_password.clone())
            .map_err(AuthError::from)?;
        let new = Password::parse_new("new_password", req.new_password.clone()).map_err(AuthError::from)?;
        self.accounts
            .change_password(caller, current, new, &origin)
            .await?;
        Ok(Response::new(()))
    }

    async fn logout_all(&self, request: Request<pb::LogoutAllRequest>) -> Result<Response<()>, Status> {
        let (token, caller) = signed_in(&request)?;
        let origin = self.origin(&request, token.session_id);
        self.accounts.logout_all(caller, &origin).await?;
        Ok(Response::new(()))
    }

    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let (token, caller) = signed_in(&request)?;
        let sessions = self.accounts.list_sessions(caller, token.session_id).await?;
        Ok(Response::new(pb::ListSessionsResponse {
            sessions: sessions
                .into_iter()
                .map(|(s, current)| pb::Session {
                    id: s.id.to_string(),
                    create_time: Some(time::micros_to_timestamp(s.create_time)),
                    last_refresh_time: Some(time::micros_to_timestamp(s.last_refresh_time)),
                    expire_time: Some(time::micros_to_timestamp(s.expire_time)),
                    client_address: s.client.address.unwrap_or_default(),
                    user_agent: s.client.user_agent.unwrap_or_default(),
                    current,
                })
                .collect(),
        }))
    }

    async fn revoke_session(
        &self,
        request: Request<pb::RevokeSessionRequest>,
    ) -> Result<Response<()>, Status> {
        let (token, caller) = signed_in(&request)?;
        let session = id_field("session_id", &request.get_ref().session_id)?;
        let origin = self.origin(&request, token.session_id);
        self.accounts.revoke_session(caller, session, &origin).await?;
        Ok(Response::new(()))
    }

    async fn list_security_events(
        &self,
        request: Request<pb::ListSecurityEventsRequest>,
    ) -> Result<Response<pb::ListSecurityEventsResponse>, Status> {
        let (_, caller) = signed_in(&request)?;
        let req = request.get_ref();
        let size = event_page_size(req.page_size)?;
        let after = event_page_token::decode(&req.page_token)?;
        // One more than the page tells whether another follows.
        let mut events = self.accounts.list_events(caller, after, size + 1).await?;
        let next_page_token = if events.len() > size {
            events.truncate(size);
            events
                .last()
                .map(|e| event_page_token::encode((e.time, e.id)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListSecurityEventsResponse {
            events: events
                .into_iter()
                .map(|e| pb::SecurityEvent {
                    id: e.id.to_string(),
                    kind: event_kind_to_pb(e.kind) as i32,
                    time: Some(time::micros_to_timestamp(e.time)),
                    client_address: e.client.address.unwrap_or_default(),
                    user_agent: e.client.user_agent.unwrap_or_default(),
                    session_id: e.session_id.map(|s| s.to_string()).unwrap_or_default(),
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn delete_account(
        &self,
        request: Request<pb::DeleteAccountRequest>,
    ) -> Result<Response<()>, Status> {
        let (token, caller) = signed_in(&request)?;
        let password =
            Password::parse_given("password", request.get_ref().password.clone()).map_err(AuthError::from)?;
        let origin = self.origin(&request, token.session_id);
        self.accounts.delete_account(caller, password, &origin).await?;
        Ok(Response::new(()))
    }

    async fn change_email(&self, request: Request<pb::ChangeEmailRequest>) -> Result<Response<()>, Status> {
        let (token, caller) = signed_in(&request)?;
        let req = request.get_ref();
        let password = Password::parse_given("password", req.password.clone()).map_err(AuthError::from)?;
        let email = Email::parse("new_email", &req.new_email).map_err(AuthError::from)?;
        let origin = self.origin(&request, token.session_id);
        self.accounts
            .change_email(caller, password, email, &origin)
            .await?;
        Ok(Response::new(()))
    }

    async fn send_verification_email(
        &self,
        request: Request<pb::SendVerificationEmailRequest>,
    ) -> Result<Response<()>, Status> {
        let (_, caller) = signed_in(&request)?;
        self.accounts
            .send_verification_email(caller, self.client_ip(&request))
            .await?;
        Ok(Response::new(()))
    }

    async fn verify_email(&self, request: Request<pb::VerifyEmailRequest>) -> Result<Response<()>, Status> {
        let token = token_field("token", &request.get_ref().token)?;
        self.accounts
            .verify_email(token, &self.client_info(&request))
            .await?;
        Ok(Response::new(()))
    }

    async fn request_password_reset(
        &self,
        request: Request<pb::RequestPasswordResetRequest>,
    ) -> Result<Response<()>, Status> {
        let email = Email::parse("email", &request.get_ref().email).map_err(AuthError::from)?;
        self.accounts
            .request_password_reset(email, self.client_ip(&request), &self.client_info(&request))
            .await?;
        Ok(Response::new(()))
    }

    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<()>, Status> {
        let req = request.get_ref();
        let token = token_field("token", &req.token)?;
        let new = Password::parse_new("new_password", req.new_password.clone()).map_err(AuthError::from)?;
        self.accounts
            .reset_password(token, new, &self.client_info(&request))
            .await?;
        Ok(Response::new(()))
    }

    type WatchRevocationsStream = ReceiverStream<Result<pb::RevocationBatch, Status>>;

    async fn watch_revocations(
        &self,
        request: Request<pb::WatchRevocationsRequest>,
    ) -> Result<Response<Self::WatchRevocationsStream>, Status> {
        let service = calling_service(&request)?;
        tracing::info!(%service, "revocation feed subscribed");
        Ok(Response::new(self.revocations.subscribe().await?))
    }
}
