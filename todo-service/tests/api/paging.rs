use std::collections::HashSet;

use testkit::{Backend, bearer, both_backends};
use todo_grpc_proto::todo::v1 as pb;
use tonic::Code;

use crate::helpers::{assert_status, spawn_pair, spawn_pair_with};

both_backends!(
    pages_are_newest_first_without_gaps,
    paging_while_rows_are_added,
    bad_page_requests,
    large_todos_page_under_the_byte_budget
);

async fn pages_are_newest_first_without_gaps(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let erin = app.user("erin").await;
    let mut created = Vec::new();
    for i in 0..25 {
        created.push(app.create(&erin, &format!("todo {i}")).await);
    }
    // Complete every third one.
    for todo in created.iter_mut().step_by(3) {
        *todo = app
            .todo
            .update_todo(bearer(
                pb::UpdateTodoRequest {
                    todo: Some(pb::Todo {
                        id: todo.id.clone(),
                        completed: true,
                        ..Default::default()
                    }),
                    update_mask: None,
                },
                &erin.token,
            ))
            .await
            .unwrap()
            .into_inner();
    }
    let newest_first: Vec<pb::Todo> = created.iter().rev().cloned().collect();

    let (all, pages) = app.list_all(&erin, 10, None).await;
    assert_eq!(pages, 3);
    assert_eq!(all, newest_first);

    // An exact multiple of the page size: the last full page says there is no more.
    let (all, pages) = app.list_all(&erin, 5, None).await;
    assert_eq!((all.len(), pages), (25, 5));

    let (done, _) = app.list_all(&erin, 4, Some(true)).await;
    let expected: Vec<_> = newest_first.iter().filter(|t| t.completed).cloned().collect();
    assert_eq!(done, expected);
    assert_eq!(done.len(), 9);
    let (open, _) = app.list_all(&erin, 4, Some(false)).await;
    assert_eq!(open.len(), 16);
    assert!(open.iter().all(|t| !t.completed));

    // Default page size is 50: everything on one page here.
    let page = app
        .todo
        .list_todos(bearer(pb::ListTodosRequest::default(), &erin.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((page.todos.len(), page.next_page_token.as_str()), (25, ""));
}

async fn paging_while_rows_are_added(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let frank = app.user("frank").await;
    let mut before = HashSet::new();
    for i in 0..12 {
        before.insert(app.create(&frank, &format!("old {i}")).await.id);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut added = 0;
    loop {
        let page = app
            .todo
            .list_todos(bearer(
                pb::ListTodosRequest {
                    page_size: 5,
                    page_token: token.clone(),
                    completed: None,
                },
                &frank.token,
            ))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.todos.into_iter().map(|t| t.id));
        // New rows arrive between pages: they are newer than the cursor, so they never
        // push old rows into a page twice or out of the listing.
        for _ in 0..3 {
            app.create(&frank, &format!("new {added}")).await;
            added += 1;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates across pages");
    assert_eq!(
        unique, before,
        "every row that existed at the start, and only those"
    );
}

async fn bad_page_requests(backend: Backend) {
    let mut app = spawn_pair(backend).await;
    let grace = app.user("grace").await;
    for _ in 0..3 {
        app.create(&grace, "x").await;
    }
    let list = |page_size: i32, page_token: &str, completed: Option<bool>| {
        bearer(
            pb::ListTodosRequest {
                page_size,
                page_token: page_token.into(),
                completed,
            },
            &grace.token,
        )
    };
    assert_status(
        app.todo.list_todos(list(-1, "", None)).await,
        Code::InvalidArgument,
        "page_size",
    );
    assert_status(
        app.todo.list_todos(list(1, "garbage", None)).await,
        Code::InvalidArgument,
        "page_token",
    );
    let token = app
        .todo
        .list_todos(list(1, "", None))
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!token.is_empty());
    // A token is bound to the filter it was made for.
    assert_status(
        app.todo.list_todos(list(1, &token, Some(true))).await,
        Code::InvalidArgument,
        "page_token",
    );
    // And cannot be altered.
    let mut tampered = token.clone().into_bytes();
    tampered[4] = if tampered[4] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_status(
        app.todo.list_todos(list(1, &tampered, None)).await,
        Code::InvalidArgument,
        "page_token",
    );
    // Another user's token pages only through that user's own todos.
    let heidi = app.user("heidi").await;
    let page = app
        .todo
        .list_todos(bearer(
            pb::ListTodosRequest {
                page_size: 10,
                page_token: token,
                completed: None,
            },
            &heidi.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(page.todos.is_empty());
}

/// Todos at their limits, in four-byte characters (~8.9 KB each): a page of 1,000 would
/// be ~2.7 MB here (8.8 MB with 1,000 of them). Each page stays under the byte budget,
/// ends early with a token, and paging still visits every todo once, newest first.
async fn large_todos_page_under_the_byte_budget(backend: Backend) {
    use futures::StreamExt;
    use prost::Message;
    use todo_service::domain::{DESCRIPTION_MAX, PAGE_BYTES_MAX, TITLE_MAX};

    let mut app = spawn_pair_with(backend, |c| c.max_todo_creates_per_minute = 100_000).await;
    let ivan = app.user("ivan").await;
    let count = 300;
    let client = app.todo.clone();
    let created: HashSet<String> = futures::stream::iter(0..count)
        .map(|i| {
            let mut client = client.clone();
            let token = ivan.token.clone();
            async move {
                let title: String = format!("{i} ") + &"😀".repeat(TITLE_MAX - 4);
                client
                    .create_todo(bearer(
                        pb::CreateTodoRequest {
                            title,
                            description: "😀".repeat(DESCRIPTION_MAX),
                        },
                        &token,
                    ))
                    .await
                    .unwrap()
                    .into_inner()
                    .id
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    assert_eq!(created.len(), count);

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = app
            .todo
            .list_todos(bearer(
                pb::ListTodosRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                    completed: None,
                },
                &ivan.token,
            ))
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(
            page.encoded_len() <= PAGE_BYTES_MAX,
            "page {pages}: {} bytes",
            page.encoded_len()
        );
        assert!(!page.todos.is_empty());
        seen.extend(page.todos);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert!(pages >= 3, "{pages} pages");
    let ids: HashSet<String> = seen.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ids.len(), seen.len(), "a todo listed twice");
    assert_eq!(ids, created, "every todo listed");
    let order: Vec<_> = seen
        .iter()
        .map(|t| {
            let at = t.create_time.unwrap();
            (at.seconds, at.nanos, t.id.clone())
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] > w[1]), "newest first");
}
