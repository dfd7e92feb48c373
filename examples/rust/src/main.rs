//! todo-grpc from Rust: register, log in, refresh, manage todos with paging and a field
//! mask, and print the `google.rpc` details of an error.
//!
//! `todo-grpc-example --auth http://127.0.0.1:50051 --todo http://127.0.0.1:50052`

use std::time::{SystemTime, UNIX_EPOCH};

use prost_types::FieldMask;
use todo_grpc_proto::{
    auth::v1::{self as auth, auth_service_client::AuthServiceClient},
    todo::v1::{self as todo, todo_service_client::TodoServiceClient},
};
use tonic::{Code, Request, metadata::MetadataValue, transport::Channel};
use tonic_types::StatusExt;

type Error = Box<dyn std::error::Error>;

/// `--auth URL --todo URL`; a bare `host:port` gets `http://`.
fn addresses() -> Result<(String, String), Error> {
    let mut auth = "http://127.0.0.1:50051".to_owned();
    let mut todo = "http://127.0.0.1:50052".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let value = if value.contains("://") {
            value
        } else {
            format!("http://{value}")
        };
        match flag.as_str() {
            "--auth" => auth = value,
            "--todo" => todo = value,
            _ => return Err(format!("unknown flag {flag}; use --auth URL --todo URL").into()),
        }
    }
    Ok((auth, todo))
}

/// `message` with `authorization: Bearer <token>`.
fn bearer<T>(message: T, token: &str) -> Result<Request<T>, Error> {
    let mut request = Request::new(message);
    let value: MetadataValue<_> = format!("Bearer {token}").parse()?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

async fn run() -> Result<(), Error> {
    let (auth_url, todo_url) = addresses()?;
    let mut auth = AuthServiceClient::new(Channel::from_shared(auth_url)?.connect().await?);
    let mut todos = TodoServiceClient::new(Channel::from_shared(todo_url)?.connect().await?);

    let suffix = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let username = format!("rs_{suffix:x}");
    let password = "correct horse battery staple".to_owned();
    let user = auth
        .register(auth::RegisterRequest {
            username: username.clone(),
            password: password.clone(),
            // Empty: no address (one to verify needs mail delivery at the server).
            email: String::new(),
        })
        .await?
        .into_inner()
        .user
        .ok_or("no user in the reply")?;
    println!("registered {} ({})", user.username, user.id);
    let pair = auth
        .login(auth::LoginRequest { username, password })
        .await?
        .into_inner();
    println!(
        "logged in: {} token, expires in {}s",
        pair.token_type, pair.expires_in
    );
    let pair = auth
        .refresh(auth::RefreshRequest {
            refresh_token: pair.refresh_token,
        })
        .await?
        .into_inner();
    println!("refreshed: new token pair");
    let token = pair.access_token;
    let me = auth
        .get_me(bearer(auth::GetMeRequest {}, &token)?)
        .await?
        .into_inner();
    println!("signed in as {}", me.username);

    let mut ids = Vec::new();
    for title in ["buy milk", "write report", "call mum"] {
        let request = todo::CreateTodoRequest {
            title: title.into(),
            description: String::new(),
        };
        ids.push(todos.create_todo(bearer(request, &token)?).await?.into_inner().id);
    }
    println!("created {} todos", ids.len());

    let update = todo::UpdateTodoRequest {
        todo: Some(todo::Todo {
            id: ids[0].clone(),
            completed: true,
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["completed".into()],
        }),
    };
    let updated = todos.update_todo(bearer(update, &token)?).await?.into_inner();
    println!("completed \"{}\" (mask: completed)", updated.title);

    let (mut titles, mut pages, mut page_token) = (Vec::new(), 0, String::new());
    loop {
        let request = todo::ListTodosRequest {
            page_size: 2,
            page_token,
            completed: None,
        };
        let page = todos.list_todos(bearer(request, &token)?).await?.into_inner();
        pages += 1;
        for t in page.todos {
            titles.push(format!("{} {}", if t.completed { "[x]" } else { "[ ]" }, t.title));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    println!(
        "listed {} todos in {pages} pages of 2:\n  {}",
        titles.len(),
        titles.join("\n  ")
    );
    if titles.len() != 3 || pages != 2 {
        return Err("unexpected list".into());
    }

    todos
        .delete_todo(bearer(todo::DeleteTodoRequest { id: ids[1].clone() }, &token)?)
        .await?;
    println!("deleted one");

    let empty = todo::CreateTodoRequest {
        title: "   ".into(),
        description: String::new(),
    };
    let status = match todos.create_todo(bearer(empty, &token)?).await {
        Ok(_) => return Err("an empty title was accepted".into()),
        Err(status) if status.code() == Code::InvalidArgument => status,
        Err(status) => return Err(status.into()),
    };
    println!("error as expected: {:?}: {}", status.code(), status.message());
    let details = status.get_error_details();
    let violations = details
        .bad_request()
        .map(|b| b.field_violations.clone())
        .unwrap_or_default();
    for v in &violations {
        println!(
            "  google.rpc.BadRequest: field={:?} description={:?}",
            v.field, v.description
        );
    }
    if let Some(retry) = details.retry_info() {
        println!("  google.rpc.RetryInfo: retry in {:?}", retry.retry_delay);
    }
    if violations.first().map(|v| v.field.as_str()) != Some("title") {
        return Err("no BadRequest field violation for title".into());
    }
    println!("rust example: OK");
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rust example failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
