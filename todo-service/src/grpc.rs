//! `todo.v1.TodoService` handlers: take the caller from the request extensions (put
//! there by the authentication layer, `authn`), parse the request into domain values, call the store,
//! convert the answer.

use common::{
    compression,
    time::{self, Clock},
};
use todo_grpc_proto::todo::v1::{self as pb, todo_service_server::TodoService};
use token::UserId;
use tonic::{Request, Response, Status};

use crate::{
    authn,
    domain::{self, Changes, Cursor, Description, PageTokens, Title, UpdateFields, Violation},
    error::TodoError,
    store::{Store, TodoRecord},
};

/// The handlers; every call was authenticated before it reaches them.
pub struct TodoGrpc {
    store: Store,
    page_tokens: PageTokens,
    clock: Clock,
}

impl TodoGrpc {
    /// Handlers over `store`; page tokens signed by `page_tokens`; creation and update
    /// times from `clock`.
    pub fn new(store: Store, page_tokens: PageTokens, clock: Clock) -> Self {
        Self {
            store,
            page_tokens,
            clock,
        }
    }

    /// The caller the authentication layer verified (signature, expiry, revocation).
    fn caller<T>(&self, request: &Request<T>) -> Result<UserId, TodoError> {
        Ok(authn::caller(request)?.user_id)
    }
}

fn todo_to_pb(todo: TodoRecord) -> pb::Todo {
    pb::Todo {
        id: todo.id.to_string(),
        title: todo.title,
        description: todo.description,
        completed: todo.completed,
        create_time: Some(time::micros_to_timestamp(todo.create_time)),
        update_time: Some(time::micros_to_timestamp(todo.update_time)),
    }
}

fn invalid(v: Violation) -> Status {
    TodoError::from(v).into()
}

#[tonic::async_trait]
impl TodoService for TodoGrpc {
    async fn create_todo(
        &self,
        request: Request<pb::CreateTodoRequest>,
    ) -> Result<Response<pb::Todo>, Status> {
        let user = self.caller(&request)?;
        let req = request.into_inner();
        let title = Title::parse("title", &req.title).map_err(invalid)?;
        let description = Description::parse("description", &req.description).map_err(invalid)?;
        let todo = self
            .store
            .create(user, &title, &description, self.clock.now_micros())
            .await?;
        Ok(compression::response(todo_to_pb(todo)))
    }

    async fn get_todo(&self, request: Request<pb::GetTodoRequest>) -> Result<Response<pb::Todo>, Status> {
        let user = self.caller(&request)?;
        let id = domain::parse_id("id", &request.get_ref().id).map_err(invalid)?;
        let todo = self.store.get(user, id).await?.ok_or(TodoError::NotFound)?;
        Ok(compression::response(todo_to_pb(todo)))
    }

    async fn list_todos(
        &self,
        request: Request<pb::ListTodosRequest>,
    ) -> Result<Response<pb::ListTodosResponse>, Status> {
        let user = self.caller(&request)?;
        let req = request.into_inner();
        let size = domain::page_size(req.page_size).map_err(invalid)?;
        let after = self
            .page_tokens
            .decode(&req.page_token, req.completed)
            .map_err(invalid)?;
        // One row more than the page tells whether another page follows; the page may
        // also end early, under its byte budget.
        let mut budget = domain::PageBudget::new(size);
        let (todos, more) = self
            .store
            .list_while(user, req.completed, after, size + 1, |todo| {
                budget.admit(domain::listed_todo_bytes(&todo.title, &todo.description))
            })
            .await?;
        let next_page_token = if more {
            todos
                .last()
                .map(|last| {
                    self.page_tokens.encode(
                        Cursor {
                            create_time: last.create_time,
                            id: last.id,
                        },
                        req.completed,
                    )
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(compression::response(pb::ListTodosResponse {
            todos: todos.into_iter().map(todo_to_pb).collect(),
            next_page_token,
        }))
    }

    async fn update_todo(
        &self,
        request: Request<pb::UpdateTodoRequest>,
    ) -> Result<Response<pb::Todo>, Status> {
        let user = self.caller(&request)?;
        let req = request.into_inner();
        let todo = req
            .todo
            .ok_or_else(|| invalid(Violation::new("todo", "is required")))?;
        let id = domain::parse_id("todo.id", &todo.id).map_err(invalid)?;
        let changes = Changes::from_mask(
            UpdateFields {
                title: &todo.title,
                description: &todo.description,
                completed: todo.completed,
            },
            req.update_mask.as_ref().map(|m| m.paths.as_slice()),
        )
        .map_err(invalid)?;
        let updated = self
            .store
            .update(user, id, &changes, self.clock.now_micros())
            .await?
            .ok_or(TodoError::NotFound)?;
        Ok(compression::response(todo_to_pb(updated)))
    }

    async fn delete_todo(&self, request: Request<pb::DeleteTodoRequest>) -> Result<Response<()>, Status> {
        let user = self.caller(&request)?;
        let id = domain::parse_id("id", &request.get_ref().id).map_err(invalid)?;
        if !self.store.delete(user, id).await? {
            return Err(TodoError::NotFound.into());
        }
        Ok(compression::response(()))
    }
}
