//! The floor: `todo.v1.TodoService` answered from memory, no database, no interceptor
//! unless asked. It answers with messages of the same shape and size as the real
//! service, so the only differences are what the real service does per call.

use todo_grpc_proto::todo::v1::{self as pb, todo_service_server::TodoService};
use tonic::{Request, Response, Status};

use crate::{DESCRIPTION, TITLE};

/// A page token of the real one's length (base64url of 58 bytes).
const PAGE_TOKEN: &str = "AQIAAAAAAAAAAAGYmV6WSdhxqbk7ZNkyC2Gm0w9Oq0fT0zZvn5M8cV6dyVh7MR9ZNNqJN8R3Vv4ozQ";

fn todo(id: String, n: i64) -> pb::Todo {
    let time = prost_types::Timestamp {
        seconds: 1_764_000_000 + n,
        nanos: 123_456_000,
    };
    pb::Todo {
        id,
        title: TITLE.to_owned(),
        description: DESCRIPTION.to_owned(),
        completed: false,
        create_time: Some(time),
        update_time: Some(time),
    }
}

/// The echo service. `ListTodos` answers a page of `page_size` (default 20) todos.
pub struct Echo;

#[tonic::async_trait]
impl TodoService for Echo {
    async fn create_todo(
        &self,
        request: Request<pb::CreateTodoRequest>,
    ) -> Result<Response<pb::Todo>, Status> {
        let req = request.into_inner();
        let mut t = todo(uuid::Uuid::now_v7().to_string(), 0);
        t.title = req.title;
        t.description = req.description;
        Ok(Response::new(t))
    }

    async fn get_todo(&self, request: Request<pb::GetTodoRequest>) -> Result<Response<pb::Todo>, Status> {
        Ok(Response::new(todo(request.into_inner().id, 0)))
    }

    async fn list_todos(
        &self,
        request: Request<pb::ListTodosRequest>,
    ) -> Result<Response<pb::ListTodosResponse>, Status> {
        let size = match request.get_ref().page_size {
            n if n <= 0 => 20,
            n => n.min(1000) as i64,
        };
        let todos = (0..size)
            .map(|n| todo(uuid::Uuid::now_v7().to_string(), n))
            .collect();
        Ok(Response::new(pb::ListTodosResponse {
            todos,
            next_page_token: PAGE_TOKEN.to_owned(),
        }))
    }

    async fn update_todo(
        &self,
        request: Request<pb::UpdateTodoRequest>,
    ) -> Result<Response<pb::Todo>, Status> {
        let t = request.into_inner().todo.unwrap_or_default();
        Ok(Response::new(todo(t.id, 0)))
    }

    async fn delete_todo(&self, _request: Request<pb::DeleteTodoRequest>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }
}
