use testkit::{Backend, Running, TestDb};
use todo_grpc_proto::{
    auth::v1::auth_service_client::AuthServiceClient,
    todo::v1::{self as pb, todo_service_client::TodoServiceClient},
};
use tonic::transport::Channel;

pub use testkit::assert_status;

/// An auth-service and a todo-service sharing the test secret, each with its own database.
pub struct TestPair {
    pub auth: AuthServiceClient<Channel>,
    pub todo: TodoServiceClient<Channel>,
    pub auth_addr: std::net::SocketAddr,
    pub todo_server: Running,
    /// The todo-service's configuration, to start replicas on the same database.
    pub todo_config: todo_service::Config,
    _auth_server: Running,
    _dbs: (TestDb, TestDb),
}

/// A signed-in user.
pub struct User {
    pub token: String,
    pub id: String,
}

pub async fn spawn_pair(backend: Backend) -> TestPair {
    spawn_pair_with(backend, |_| {}).await
}

/// Like [`spawn_pair`], with the todo-service's configuration changed by `tweak`.
pub async fn spawn_pair_with(backend: Backend, tweak: impl FnOnce(&mut todo_service::Config)) -> TestPair {
    spawn_pair_configured(backend, |_| {}, tweak).await
}

/// Like [`spawn_pair`], with the auth-service's configuration changed by `auth_tweak`
/// and the todo-service's by `tweak`.
pub async fn spawn_pair_configured(
    backend: Backend,
    auth_tweak: impl FnOnce(&mut auth_service::Config),
    tweak: impl FnOnce(&mut todo_service::Config),
) -> TestPair {
    let auth_db = TestDb::new(backend).await;
    let todo_db = TestDb::new(backend).await;
    let mut auth_config = testkit::auth_config(&auth_db.url);
    auth_tweak(&mut auth_config);
    let auth_server = testkit::spawn_auth(auth_config).await;
    let mut config = todo_config(&todo_db.url);
    config.auth_service_url = Some(auth_server.url());
    tweak(&mut config);
    let todo_server = spawn_todo(config.clone()).await;
    TestPair {
        auth: testkit::auth_client(auth_server.addr).await,
        todo: TodoServiceClient::new(testkit::channel(todo_server.addr).await),
        auth_addr: auth_server.addr,
        todo_server,
        todo_config: config,
        _auth_server: auth_server,
        _dbs: (auth_db, todo_db),
    }
}

pub use testkit::{spawn_todo, todo_config};

/// The parts of a pair, to stop one service on its own.
pub struct TestPairParts {
    pub auth_server: Running,
    pub todo_server: Running,
    pub dbs: (TestDb, TestDb),
}

impl TestPair {
    /// Another todo-service on the same database and auth-service, and a client of it.
    pub async fn replica(&self) -> (Running, TodoServiceClient<Channel>) {
        let mut config = self.todo_config.clone();
        config.server.metrics_addr = None;
        let server = spawn_todo(config).await;
        let client = TodoServiceClient::new(testkit::channel(server.addr).await);
        (server, client)
    }

    /// The todo-service's database, to look at what it holds.
    pub fn todo_db_url(&self) -> String {
        self._dbs.1.url.clone()
    }

    pub fn into_parts(self) -> TestPairParts {
        TestPairParts {
            auth_server: self._auth_server,
            todo_server: self.todo_server,
            dbs: self._dbs,
        }
    }

    /// Registers and logs in `name` at the auth-service.
    pub async fn user(&mut self, name: &str) -> User {
        let pair = testkit::register_and_login(&mut self.auth, name, "a good long password").await;
        let me = self
            .auth
            .get_me(testkit::bearer(
                todo_grpc_proto::auth::v1::GetMeRequest {},
                &pair.access_token,
            ))
            .await
            .unwrap()
            .into_inner();
        User {
            token: pair.access_token,
            id: me.id,
        }
    }

    pub async fn create(&mut self, user: &User, title: &str) -> pb::Todo {
        self.todo
            .create_todo(testkit::bearer(
                pb::CreateTodoRequest {
                    title: title.into(),
                    description: String::new(),
                },
                &user.token,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// Every page of the user's list, following next_page_token.
    pub async fn list_all(
        &mut self,
        user: &User,
        page_size: i32,
        completed: Option<bool>,
    ) -> (Vec<pb::Todo>, usize) {
        let mut all = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = self
                .todo
                .list_todos(testkit::bearer(
                    pb::ListTodosRequest {
                        page_size,
                        page_token: token.clone(),
                        completed,
                    },
                    &user.token,
                ))
                .await
                .unwrap()
                .into_inner();
            pages += 1;
            all.extend(page.todos);
            if page.next_page_token.is_empty() {
                return (all, pages);
            }
            token = page.next_page_token;
        }
    }
}
