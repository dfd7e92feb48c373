use prost_types::FieldMask;
use testkit::{Backend, bearer, both_backends};
use todo_grpc_proto::todo::v1 as pb;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::helpers::{assert_status, spawn_pair};

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

both_backends!(
    crud_round_trip,
    users_never_see_each_others_todos,
    update_masks_follow_aip_134,
    input_limits,
    health_and_reflection_need_no_token,
    grpc_web_on_the_same_port,
    every_acknowledged_write_is_read_back_under_concurrency,
    a_stored_row_we_never_wrote_is_internal_and_hidden,
);

async fn crud_round_trip(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let alice = app.user("alice").await;
    let created = app
        .todo
        .create_todo(bearer(
            pb::CreateTodoRequest {
                title: "  buy milk  ".into(),
                description: "two litres".into(),
            },
            &alice.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.title, "buy milk", "title is trimmed");
    assert_eq!(created.description, "two litres");
    assert!(!created.completed);
    assert!(uuid::Uuid::parse_str(&created.id).is_ok());
    assert_eq!(created.create_time, created.update_time);

    let got = app
        .todo
        .get_todo(bearer(
            pb::GetTodoRequest {
                id: created.id.clone(),
            },
            &alice.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, created);

    let updated = app
        .todo
        .update_todo(bearer(
            pb::UpdateTodoRequest {
                todo: Some(pb::Todo {
                    id: created.id.clone(),
                    completed: true,
                    ..Default::default()
                }),
                update_mask: mask(&["completed"]),
            },
            &alice.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(updated.completed);
    assert_eq!(updated.title, "buy milk");
    let at = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos)).unwrap();
    assert!(at(&updated.update_time) >= at(&created.update_time));
    assert_eq!(updated.create_time, created.create_time);

    let (all, _) = app.list_all(&alice, 0, None).await;
    assert_eq!(all, vec![updated.clone()]);

    app.todo
        .delete_todo(bearer(
            pb::DeleteTodoRequest {
                id: created.id.clone(),
            },
            &alice.token,
        ))
        .await
        .unwrap();
    assert_status(
        app.todo
            .get_todo(bearer(
                pb::GetTodoRequest {
                    id: created.id.clone(),
                },
                &alice.token,
            ))
            .await,
        Code::NotFound,
        "not found",
    );
    assert_status(
        app.todo
            .delete_todo(bearer(pb::DeleteTodoRequest { id: created.id }, &alice.token))
            .await,
        Code::NotFound,
        "not found",
    );
}

async fn users_never_see_each_others_todos(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    assert_ne!(alice.id, bob.id);
    let hers = app.create(&alice, "alice's secret plan").await;
    let his = app.create(&bob, "bob's list").await;

    assert_status(
        app.todo
            .get_todo(bearer(pb::GetTodoRequest { id: hers.id.clone() }, &bob.token))
            .await,
        Code::NotFound,
        "not found",
    );
    assert_status(
        app.todo
            .update_todo(bearer(
                pb::UpdateTodoRequest {
                    todo: Some(pb::Todo {
                        id: hers.id.clone(),
                        title: "pwned".into(),
                        ..Default::default()
                    }),
                    update_mask: None,
                },
                &bob.token,
            ))
            .await,
        Code::NotFound,
        "not found",
    );
    assert_status(
        app.todo
            .delete_todo(bearer(pb::DeleteTodoRequest { id: hers.id.clone() }, &bob.token))
            .await,
        Code::NotFound,
        "not found",
    );
    let (bobs, _) = app.list_all(&bob, 0, None).await;
    assert_eq!(bobs, vec![his]);
    for completed in [Some(false), Some(true)] {
        let (bobs, _) = app.list_all(&bob, 0, completed).await;
        assert!(bobs.iter().all(|t| t.id != hers.id));
    }
    // Alice's todo is untouched by all of that.
    let still = app
        .todo
        .get_todo(bearer(pb::GetTodoRequest { id: hers.id.clone() }, &alice.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still, hers);
}

async fn update_masks_follow_aip_134(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let carol = app.user("carol").await;
    let todo = app
        .todo
        .create_todo(bearer(
            pb::CreateTodoRequest {
                title: "original".into(),
                description: "keep me".into(),
            },
            &carol.token,
        ))
        .await
        .unwrap()
        .into_inner();
    let update = |title: &str, description: &str, completed: bool, paths: Option<&[&str]>| {
        let request = bearer(
            pb::UpdateTodoRequest {
                todo: Some(pb::Todo {
                    id: todo.id.clone(),
                    title: title.into(),
                    description: description.into(),
                    completed,
                    ..Default::default()
                }),
                update_mask: paths.and_then(mask),
            },
            &carol.token,
        );
        let mut client = app.todo.clone();
        async move { client.update_todo(request).await.map(|r| r.into_inner()) }
    };

    // A mask names exactly what changes, even to an empty value.
    let t = update("renamed", "ignored", true, Some(&["title"]))
        .await
        .unwrap();
    assert_eq!(
        (t.title.as_str(), t.description.as_str(), t.completed),
        ("renamed", "keep me", false)
    );
    let t = update("", "", false, Some(&["description"])).await.unwrap();
    assert_eq!((t.title.as_str(), t.description.as_str()), ("renamed", ""));
    // No mask: the fields that are set.
    let t = update("", "new description", true, None).await.unwrap();
    assert_eq!(
        (t.title.as_str(), t.description.as_str(), t.completed),
        ("renamed", "new description", true)
    );
    let t = update("", "", false, Some(&["completed"])).await.unwrap();
    assert!(!t.completed);
    // `*`: full replacement.
    let t = update("all new", "", true, Some(&["*"])).await.unwrap();
    assert_eq!(
        (t.title.as_str(), t.description.as_str(), t.completed),
        ("all new", "", true)
    );

    assert_status(
        update("x", "", false, Some(&["owner"])).await,
        Code::InvalidArgument,
        "update_mask",
    );
    assert_status(
        update("", "", false, Some(&["title"])).await,
        Code::InvalidArgument,
        "todo.title",
    );
    assert_status(
        update("", "", false, None).await,
        Code::InvalidArgument,
        "nothing to update",
    );
    assert_status(
        app.todo
            .update_todo(bearer(pb::UpdateTodoRequest::default(), &carol.token))
            .await,
        Code::InvalidArgument,
        "todo",
    );
}

async fn input_limits(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let dave = app.user("dave").await;
    let create = |title: String, description: String| {
        bearer(pb::CreateTodoRequest { title, description }, &dave.token)
    };
    for (title, description, field) in [
        (String::new(), String::new(), "title"),
        ("   ".to_owned(), String::new(), "title"),
        ("t".repeat(201), String::new(), "title"),
        ("bell\u{7}".to_owned(), String::new(), "title"),
        ("ok".to_owned(), "d".repeat(2001), "description"),
    ] {
        let status = assert_status(
            app.todo.create_todo(create(title, description)).await,
            Code::InvalidArgument,
            field,
        );
        assert!(status.message().starts_with(field), "{}", status.message());
    }
    // At the limits exactly: accepted, counted in characters.
    app.todo
        .create_todo(create("é".repeat(200), "é".repeat(2000)))
        .await
        .unwrap();
    // Over the message-size limit: refused before it is read.
    let status = app
        .todo
        .create_todo(create("big".into(), "x".repeat(64 * 1024)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    for id in ["", "not-a-uuid", "00000000000000000000000000000000"] {
        assert_status(
            app.todo
                .get_todo(bearer(pb::GetTodoRequest { id: id.into() }, &dave.token))
                .await,
            Code::InvalidArgument,
            "id",
        );
    }
    assert_status(
        app.todo
            .get_todo(bearer(
                pb::GetTodoRequest {
                    id: uuid::Uuid::new_v4().to_string(),
                },
                &dave.token,
            ))
            .await,
        Code::NotFound,
        "not found",
    );
}

async fn health_and_reflection_need_no_token(backend: Backend) {
    let app = spawn_pair(backend).await;
    let addr = app.todo_server.addr;
    testkit::wait_health(addr, "", ServingStatus::Serving).await;
    testkit::wait_health(addr, todo_service::SERVICE_NAME, ServingStatus::Serving).await;
    let services = testkit::reflected_services(addr).await;
    assert!(
        services.contains(&"todo.v1.TodoService".to_owned()),
        "{services:?}"
    );
    assert!(!services.iter().any(|s| s.starts_with("auth.")), "{services:?}");
}

async fn grpc_web_on_the_same_port(backend: Backend) {
    use testkit::web::{self, Encoding};
    let mut app = spawn_pair(backend).await;
    let kim = app.user("kim").await;
    let auth = format!("Bearer {}", kim.token);
    for encoding in [Encoding::Binary, Encoding::Text] {
        let create = pb::CreateTodoRequest {
            title: format!("from the browser {encoding:?}"),
            description: String::new(),
        };
        let r = web::call(
            app.todo_server.addr,
            "/todo.v1.TodoService/CreateTodo",
            &create,
            encoding,
            &[("authorization", &auth)],
        )
        .await;
        assert_eq!(
            (r.http_status, r.grpc_status.as_deref()),
            (200, Some("0")),
            "{r:?}"
        );
        let todo: pb::Todo = r.decode();
        assert_eq!(todo.title, create.title);
        // Without the token: refused through gRPC-Web too, with a readable status.
        let r = web::call(
            app.todo_server.addr,
            "/todo.v1.TodoService/CreateTodo",
            &create,
            encoding,
            &[],
        )
        .await;
        assert_eq!(r.grpc_status.as_deref(), Some("16"), "{r:?}");
    }
    let (all, _) = app.list_all(&kim, 10, None).await;
    assert_eq!(all.len(), 2);
}

/// On SQLite, reads go to the file on the calling thread and writes through sqlx's pool:
/// an acknowledged create or update must be what the very next read sees, with many
/// callers writing and reading at once (and a lister running beside them throughout),
/// on the replica that wrote and on another one (its own connections to the database).
async fn every_acknowledged_write_is_read_back_under_concurrency(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let (_replica, replica) = app.replica().await;
    let alice = app.user("alice").await;
    let token = alice.token.clone();
    let writers = (0..16).map(|w| {
        // Half the writers read back on the replica that wrote, half on the other.
        let mut client = app.todo.clone();
        let mut reader = if w % 2 == 0 {
            app.todo.clone()
        } else {
            replica.clone()
        };
        let token = token.clone();
        tokio::spawn(async move {
            // 112 creates: within the default burst of 120 a minute.
            for n in 0..7 {
                let create = pb::CreateTodoRequest {
                    title: format!("writer {w} todo {n}"),
                    description: String::new(),
                };
                let created = client
                    .create_todo(bearer(create, &token))
                    .await
                    .unwrap()
                    .into_inner();
                let get = |id: String| pb::GetTodoRequest { id };
                let got = reader
                    .get_todo(bearer(get(created.id.clone()), &token))
                    .await
                    .unwrap();
                assert_eq!(got.into_inner(), created, "a create is read back at once");
                let update = pb::UpdateTodoRequest {
                    todo: Some(pb::Todo {
                        id: created.id.clone(),
                        completed: true,
                        ..Default::default()
                    }),
                    update_mask: mask(&["completed"]),
                };
                let updated = client
                    .update_todo(bearer(update, &token))
                    .await
                    .unwrap()
                    .into_inner();
                let got = reader
                    .get_todo(bearer(get(created.id.clone()), &token))
                    .await
                    .unwrap();
                assert_eq!(got.into_inner(), updated, "an update is read back at once");
            }
        })
    });
    let writers: Vec<_> = writers.collect();
    let (mut lister, list_token) = (app.todo.clone(), token.clone());
    let list = |page_size| pb::ListTodosRequest {
        page_size,
        ..Default::default()
    };
    let listing = tokio::spawn(async move {
        for _ in 0..10_000 {
            let page = lister
                .list_todos(bearer(list(100), &list_token))
                .await
                .unwrap()
                .into_inner();
            if page.todos.len() == 100 {
                return;
            }
        }
    });
    for writer in writers {
        writer.await.unwrap();
    }
    // Every list beside the writers succeeded (a failed one panics the task).
    listing.await.unwrap();
    let page = app
        .todo
        .list_todos(bearer(list(100), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.todos.len(), 100);
    let mut more = page.next_page_token;
    let mut total = page.todos.len();
    while !more.is_empty() {
        let request = pb::ListTodosRequest {
            page_size: 100,
            page_token: more,
            ..Default::default()
        };
        let page = app
            .todo
            .list_todos(bearer(request, &token))
            .await
            .unwrap()
            .into_inner();
        total += page.todos.len();
        more = page.next_page_token;
    }
    assert_eq!(total, 16 * 7, "every created todo is listed");
}

/// A row the service could not have written (an id that is not a UUID) is a fault of the
/// database, not of the caller: INTERNAL without the detail, on the read path of each
/// backend, and the service goes on answering.
async fn a_stored_row_we_never_wrote_is_internal_and_hidden(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let alice = app.user("alice").await;
    let good = app.create(&alice, "a real todo").await;
    let url = app.todo_db_url();
    let pool = common::db::pool_options(&url, &Default::default())
        .connect(&url)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO todos (id, user_id, title, description, completed, create_time, update_time) \
         VALUES ('not-a-uuid', $1, 'odd', '', FALSE, 1, 1)",
    )
    .bind(&alice.id)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let list = pb::ListTodosRequest {
        page_size: 10,
        ..Default::default()
    };
    let failed = app.todo.list_todos(bearer(list, &alice.token)).await.unwrap_err();
    assert_eq!(failed.code(), Code::Internal);
    assert_eq!(
        failed.message(),
        "internal error",
        "no detail of the database reaches the caller"
    );
    let got = app
        .todo
        .get_todo(bearer(pb::GetTodoRequest { id: good.id.clone() }, &alice.token))
        .await
        .unwrap();
    assert_eq!(got.into_inner(), good, "other reads still answer");
}
