-- Per-user bounds on creating todos, kept in the database so that every replica enforces
-- the same ones: how many todos each user has (kept in step by CreateTodo and
-- DeleteTodo, in the transactions that insert and delete), and the user's creation
-- schedule for the rate limit (GCRA theoretical arrival time, microseconds since the
-- epoch; 0 for never).

CREATE TABLE todo_quotas (
    user_id    TEXT PRIMARY KEY,
    todo_count BIGINT NOT NULL,
    create_tat BIGINT NOT NULL
);

-- Users who have todos already start with their true count.
INSERT INTO todo_quotas (user_id, todo_count, create_tat)
SELECT user_id, COUNT(*), 0 FROM todos GROUP BY user_id;
