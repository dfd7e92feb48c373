//! The calls a cell repeats: todo calls and Login over tonic clients, GetTodo over
//! gRPC-Web on HTTP/1.1 (framed by testkit's `web` module), and GetTodo through the
//! todo-service's own `Store` on a pool in this process.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use todo_grpc_proto::{
    auth::v1::{self as authpb, auth_service_client::AuthServiceClient},
    todo::v1::{self as pb, todo_service_client::TodoServiceClient},
};
use todo_service::{
    domain::{CreateLimits, TodoId},
    store::Store,
};
use token::UserId;
use tonic::{
    metadata::{Ascii, MetadataValue},
    transport::Channel,
};

use crate::{DESCRIPTION, Res, TITLE, drive::Caller, err};

/// A plaintext HTTP/2 channel to `addr`, without Nagle's delay (small calls).
pub async fn connect(addr: SocketAddr) -> Res<Channel> {
    Channel::from_shared(format!("http://{addr}"))
        .map_err(err("uri"))?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(err("connect"))
}

/// A status as one line of the report.
pub fn status_text(s: tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

/// The todo call a [`TodoCall`] repeats.
#[derive(Clone)]
pub enum Rpc {
    Get(String),
    List(i32),
    Create,
}

/// A todo call over gRPC; clones share one HTTP/2 connection.
#[derive(Clone)]
pub struct TodoCall {
    pub client: TodoServiceClient<Channel>,
    pub auth: MetadataValue<Ascii>,
    pub rpc: Rpc,
}

impl TodoCall {
    /// A call to the todo-service at `addr` with `auth`.
    pub async fn connect(addr: SocketAddr, auth: &MetadataValue<Ascii>, rpc: Rpc) -> Res<Self> {
        Ok(Self {
            client: TodoServiceClient::new(connect(addr).await?),
            auth: auth.clone(),
            rpc,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(message);
        r.metadata_mut().insert("authorization", self.auth.clone());
        r
    }

    /// Creates a todo of the suite's sizes; returns its id.
    pub async fn create(&mut self) -> Res<String> {
        let req = self.request(pb::CreateTodoRequest {
            title: TITLE.into(),
            description: DESCRIPTION.into(),
        });
        let todo = self.client.create_todo(req).await.map_err(status_text)?;
        Ok(todo.into_inner().id)
    }
}

impl Caller for TodoCall {
    async fn call(&mut self) -> Res<()> {
        match self.rpc.clone() {
            Rpc::Get(id) => {
                let req = self.request(pb::GetTodoRequest { id });
                self.client.get_todo(req).await.map_err(status_text)?;
            }
            Rpc::List(n) => {
                let req = self.request(pb::ListTodosRequest {
                    page_size: n,
                    ..Default::default()
                });
                let page = self.client.list_todos(req).await.map_err(status_text)?;
                if page.get_ref().todos.len() != n as usize {
                    return Err(format!("page of {}", page.get_ref().todos.len()));
                }
            }
            Rpc::Create => {
                self.create().await?;
            }
        }
        Ok(())
    }
}

/// A Login call; clones share one HTTP/2 connection.
#[derive(Clone)]
pub struct LoginCall {
    pub client: AuthServiceClient<Channel>,
    pub username: String,
    pub password: String,
}

impl Caller for LoginCall {
    async fn call(&mut self) -> Res<()> {
        self.client
            .login(authpb::LoginRequest {
                username: self.username.clone(),
                password: self.password.clone(),
            })
            .await
            .map_err(status_text)?;
        Ok(())
    }
}

/// GetTodo over gRPC-Web: an HTTP/1.1 POST on a keep-alive connection of its own.
/// (testkit's `web::call` opens a connection per call, which is not what a browser
/// does, so only its framing is shared.)
pub struct WebCall {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
    auth: http::HeaderValue,
    body: Bytes,
}

impl WebCall {
    pub async fn connect(addr: SocketAddr, token: &str, id: &str) -> Res<Self> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(err("connect"))?;
        stream.set_nodelay(true).map_err(err("nodelay"))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(err("http/1.1 handshake"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let message = prost::Message::encode_to_vec(&pb::GetTodoRequest { id: id.into() });
        let body = testkit::web::data_frame(&message).map_err(err("frame"))?;
        Ok(Self {
            sender,
            host: addr.to_string(),
            auth: http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(err("auth"))?,
            body: body.into(),
        })
    }
}

/// Checks a gRPC-Web response body: a message, then a trailer frame with status 0.
fn grpc_web_ok(body: Bytes) -> Res<()> {
    let frames = testkit::web::parse_body(body);
    if frames.truncated {
        return Err("truncated frame".into());
    }
    match frames.grpc_status.as_deref() {
        Some("0") if frames.message.is_some() => Ok(()),
        Some("0") => Err("no message".into()),
        None => Err("no trailers".into()),
        Some(other) => Err(format!(
            "grpc-status {other}: {}",
            frames.grpc_message.unwrap_or_default()
        )),
    }
}

impl Caller for WebCall {
    async fn call(&mut self) -> Res<()> {
        let req = http::Request::post("/todo.v1.TodoService/GetTodo")
            .header(http::header::HOST, &self.host)
            .header(http::header::CONTENT_TYPE, "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .header(http::header::AUTHORIZATION, self.auth.clone())
            .body(Full::new(self.body.clone()))
            .map_err(err("request"))?;
        self.sender.ready().await.map_err(err("connection"))?;
        let resp = self.sender.send_request(req).await.map_err(err("send"))?;
        if resp.status() != http::StatusCode::OK {
            return Err(format!("HTTP {}", resp.status()));
        }
        if let Some(s) = resp.headers().get("grpc-status")
            && s != "0"
        {
            return Err(format!("grpc-status {s:?} (trailers-only)"));
        }
        let body = resp.into_body().collect().await.map_err(err("body"))?.to_bytes();
        grpc_web_ok(body)
    }
}

/// GetTodo's read without the server around it, in this process: by the todo-service's
/// own `Store` on an sqlx pool opened here with the services' pool settings (except
/// `test_before_acquire`, to show what a ping before each query costs), with or without
/// its direct SQLite reads; or by sqlx's native SQLite driver instead of `Any`.
#[derive(Clone)]
pub struct PoolCall {
    pool: sqlx::AnyPool,
    read: Read,
    id: TodoId,
    user: UserId,
}

/// How a [`PoolCall`] reads.
#[derive(Clone)]
pub enum Read {
    /// Through the store.
    Store(Store),
    /// The store's SELECT through sqlx's native SQLite driver, no `Any`.
    Native(sqlx::SqlitePool),
}

/// How a [`PoolCall`] reaches the database.
#[derive(Clone, Copy, Debug)]
pub enum ReadPath {
    /// The store with every statement through sqlx's `Any` pool.
    Sqlx {
        /// The pool's ping before each query.
        test_before_acquire: bool,
    },
    /// The same SELECT through sqlx's native SQLite pool (same settings, no ping).
    NativeSqlite,
    /// The store as the service runs it: on a SQLite file, reads on the calling thread.
    Store,
}

impl PoolCall {
    pub async fn open(url: &str, path: ReadPath, id: &str, user: UserId) -> Res<Self> {
        let id = TodoId::parse(id).ok_or_else(|| format!("todo id {id:?} is not a UUID"))?;
        let settings = common::db::PoolSettings::default();
        let ping = matches!(
            path,
            ReadPath::Sqlx {
                test_before_acquire: true
            }
        );
        let pool = common::db::pool_options(url, &settings)
            .test_before_acquire(ping)
            .connect(url)
            .await
            .map_err(err("pool"))?;
        let limits = CreateLimits::default();
        let read = match path {
            ReadPath::Sqlx { .. } => Read::Store(Store::through_sqlx(pool.clone(), limits)),
            ReadPath::Store => Read::Store(Store::new(pool.clone(), url, limits).map_err(err("store"))?),
            ReadPath::NativeSqlite => Read::Native(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(settings.max_connections)
                    .test_before_acquire(false)
                    .connect(url)
                    .await
                    .map_err(err("native pool"))?,
            ),
        };
        Ok(Self { pool, read, id, user })
    }

    /// Closes the pools' connections.
    pub async fn close(&self) {
        if let Read::Native(native) = &self.read {
            native.close().await;
        }
        self.pool.close().await;
    }
}

impl Caller for PoolCall {
    async fn call(&mut self) -> Res<()> {
        match &self.read {
            Read::Store(store) => {
                store
                    .get(self.user, self.id)
                    .await
                    .map_err(err("get"))?
                    .ok_or("no such todo")?;
            }
            Read::Native(pool) => {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT id, title, description, completed, create_time, update_time \
                     FROM todos WHERE id = $1 AND user_id = $2",
                )
                .bind(self.id.to_string())
                .bind(self.user.to_string())
                .fetch_optional(pool)
                .await
                .map_err(err("get"))?
                .ok_or("no such todo")?;
                // Decoded as the store decodes, so the work compared is the same.
                let id: &str = row.try_get(0).map_err(err("id"))?;
                TodoId::parse(id).ok_or("stored id is not a UUID")?;
                let _: (String, String, bool, i64, i64) = (
                    row.try_get(1).map_err(err("title"))?,
                    row.try_get(2).map_err(err("description"))?,
                    row.try_get(3).map_err(err("completed"))?,
                    row.try_get(4).map_err(err("create_time"))?,
                    row.try_get(5).map_err(err("update_time"))?,
                );
            }
        }
        Ok(())
    }
}

/// How a cell's callers reach their server.
#[derive(Clone)]
pub enum Target {
    /// gRPC over one HTTP/2 connection shared by all streams.
    Grpc {
        addr: SocketAddr,
        auth: MetadataValue<Ascii>,
        rpc: Rpc,
    },
    /// GetTodo over gRPC-Web, one HTTP/1.1 connection per stream.
    Web {
        addr: SocketAddr,
        token: String,
        id: String,
    },
    /// GetTodo's read through the store on a pool in this process.
    Pool(PoolCall),
}

/// Any of the callers, so cells of different kinds can be interleaved.
pub enum AnyCall {
    Todo(TodoCall),
    Web(WebCall),
    Pool(PoolCall),
}

impl Caller for AnyCall {
    async fn call(&mut self) -> Res<()> {
        match self {
            AnyCall::Todo(c) => c.call().await,
            AnyCall::Web(c) => c.call().await,
            AnyCall::Pool(c) => c.call().await,
        }
    }
}

impl Target {
    /// `c` callers: clones on one connection, or a connection each for gRPC-Web.
    pub async fn callers(&self, c: usize) -> Res<Vec<AnyCall>> {
        match self {
            Target::Grpc { addr, auth, rpc } => {
                let call = TodoCall::connect(*addr, auth, rpc.clone()).await?;
                Ok(vec![call; c].into_iter().map(AnyCall::Todo).collect())
            }
            Target::Pool(call) => Ok(vec![call.clone(); c].into_iter().map(AnyCall::Pool).collect()),
            Target::Web { addr, token, id } => {
                let mut v = Vec::with_capacity(c);
                for _ in 0..c {
                    v.push(AnyCall::Web(WebCall::connect(*addr, token, id).await?));
                }
                Ok(v)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_web_bodies() {
        let message = testkit::web::data_frame(b"x").unwrap();
        let trailer = |text: &str| {
            let mut t = vec![0x80u8];
            t.extend_from_slice(&(text.len() as u32).to_be_bytes());
            t.extend_from_slice(text.as_bytes());
            t
        };
        let ok = [message.clone(), trailer("grpc-status: 0\r\n")].concat();
        assert_eq!(grpc_web_ok(ok.into()), Ok(()));
        let empty = trailer("grpc-status: 0\r\n");
        assert_eq!(grpc_web_ok(empty.into()), Err("no message".into()));
        let refused = [
            message.clone(),
            trailer("grpc-status: 16\r\ngrpc-message: no\r\n"),
        ]
        .concat();
        assert_eq!(grpc_web_ok(refused.into()), Err("grpc-status 16: no".into()));
        assert_eq!(grpc_web_ok(message.clone().into()), Err("no trailers".into()));
        assert_eq!(
            grpc_web_ok(message[..5].to_vec().into()),
            Err("truncated frame".into())
        );
    }
}
