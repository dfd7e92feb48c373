-- Portable across SQLite and PostgreSQL: TEXT ids (UUIDs), BIGINT instants in
-- microseconds since the epoch. Users live in the auth-service's database: user_id is
-- a reference by value only.

CREATE TABLE todos (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    completed   BOOLEAN NOT NULL DEFAULT FALSE,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);

-- Keyset paging, newest first: one user's page is an index range scan whatever the
-- table size. The second index serves the `completed` filter the same way.
CREATE INDEX todos_user_page ON todos (user_id, create_time DESC, id DESC);
CREATE INDEX todos_user_completed_page ON todos (user_id, completed, create_time DESC, id DESC);
