// The list: add, filter and page (both in the URL), tick, edit in place, delete
// with undo, clear completed, and how many are left. Focus is kept or moved on
// purpose after every action; announcements go to the live region, never the list.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useQuery } from "@connectrpc/connect-query";
import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from "react";
import { useAnnounce } from "../app/announce";
import { useApp, useAuth } from "../app/context";
import { loadDraft, saveDraft } from "../app/drafts";
import { focusById } from "../app/focus";
import { Link, navigate, usePlace } from "../app/router";
import { useDeletes, useTodoActions, useTodoList } from "../app/todos";
import { countText, Field, FormError, ScreenHeading, TextAreaField } from "../app/ui";
import { AuthService } from "../gen/auth/v1/auth_pb";
import type { Todo } from "../gen/todo/v1/todo_pb";
import { describe } from "../lib/errors";
import { formatDateTime } from "../lib/format";
import { clampPage, FILTERS, type Filter, listSearch, pageCount, parseListPlace } from "../lib/url";
import { charCount, DESCRIPTION_MAX, descriptionProblem, TITLE_MAX, titleProblem } from "../lib/validate";

const FILTER_LABEL: Record<Filter, string> = { all: "All", open: "Open", done: "Done" };
const HEADING: Record<Filter, string> = { all: "All todos", open: "Open todos", done: "Done todos" };

const matches = (filter: Filter, t: Todo) => filter === "all" || (filter === "done") === t.completed;

export function Todos() {
  const me = useQuery(AuthService.method.getMe, {});
  const { auth, clearNotice } = useAuth();
  if (!me.data) {
    return (
      <section>
        <ScreenHeading>Your todos</ScreenHeading>
        <p className="muted">{me.isError ? "Your account could not be loaded." : "Loading…"}</p>
      </section>
    );
  }
  const notice = auth.kind === "in" ? auth.notice : undefined;
  return (
    <section aria-labelledby="main-heading">
      <ScreenHeading>Your todos</ScreenHeading>
      {notice && (
        <div className="notice notice-info" id="welcome-notice">
          <p>{notice}</p>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              clearNotice();
              focusById("new-title");
            }}
          >
            Dismiss
          </button>
        </div>
      )}
      <AddTodo user={me.data.id} />
      <TodoList user={me.data.id} />
    </section>
  );
}

interface Draft {
  title: string;
  description: string;
}

type DraftErrors = { title?: string | null; description?: string | null };

/** Shows a todo form's field errors and focuses the first; false when there are none. */
function showDraftErrors(
  found: DraftErrors,
  setErrors: (errors: DraftErrors) => void,
  ids: { title: string; description: string },
): boolean {
  setErrors(found);
  if (!found.title && !found.description) return false;
  focusById(found.title ? ids.title : ids.description);
  return true;
}

/** The title and details of a todo being written: counts near the limits, an error as soon as the title is over. */
function DraftFields({
  ids,
  named,
  details,
  draft,
  errors,
  setDraft,
  setErrors,
}: {
  ids: { title: string; description: string };
  /** Give the inputs form names (title, description). */
  named?: boolean;
  details: { label: string; rows: number; counted: boolean };
  draft: Draft;
  errors: DraftErrors;
  setDraft: (d: Draft) => void;
  setErrors: (errors: DraftErrors) => void;
}) {
  const titleCount = charCount(draft.title.trim());
  const descriptionCount = charCount(draft.description);
  return (
    <>
      <Field
        id={ids.title}
        label="Title"
        name={named ? "title" : undefined}
        autoComplete="off"
        value={draft.title}
        error={errors.title ?? (titleCount > TITLE_MAX ? titleProblem(draft.title) : null)}
        counter={titleCount > TITLE_MAX - 40 ? countText(titleCount, TITLE_MAX) : undefined}
        onChange={(e) => {
          setDraft({ ...draft, title: e.target.value });
          if (errors.title) setErrors({ ...errors, title: null });
        }}
      />
      <TextAreaField
        id={ids.description}
        label={details.label}
        name={named ? "description" : undefined}
        rows={details.rows}
        value={draft.description}
        error={errors.description}
        counter={
          details.counted && descriptionCount > DESCRIPTION_MAX - 200
            ? countText(descriptionCount, DESCRIPTION_MAX)
            : undefined
        }
        onChange={(e) => {
          setDraft({ ...draft, description: e.target.value });
          if (errors.description) setErrors({ ...errors, description: null });
        }}
      />
    </>
  );
}

const NEW_IDS = { title: "new-title", description: "new-description" };

function AddTodo({ user }: { user: string }) {
  const { createTodo } = useTodoActions();
  const { session } = useApp();
  const announce = useAnnounce();
  const place = usePlace();
  const [draft, setDraftState] = useState<Draft>(() => loadDraft<Draft>(user, "new") ?? { title: "", description: "" });
  const [errors, setErrors] = useState<DraftErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const setDraft = (d: Draft) => {
    setDraftState(d);
    saveDraft(user, "new", d.title || d.description ? d : null);
  };
  const titleCount = charCount(draft.title.trim());
  const overLimit = titleCount > TITLE_MAX;
  const wasOver = useRef(false);
  useEffect(() => {
    if (overLimit && !wasOver.current) announce(`Title is over the limit of ${TITLE_MAX} characters.`);
    wasOver.current = overLimit;
  }, [overLimit, announce]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setFormError(null);
    const found = { title: titleProblem(draft.title), description: descriptionProblem(draft.description) };
    if (showDraftErrors(found, setErrors, NEW_IDS)) return;
    setBusy(true);
    try {
      const todo = await createTodo(draft.title.trim(), draft.description);
      setDraft({ title: "", description: "" });
      setErrors({});
      announce(`Added “${todo.title}”.`);
      // Newest first: it is at the top of page 1 (of "all" and "open").
      const { filter } = parseListPlace(place.search);
      const to = listSearch({ filter: filter === "done" ? "all" : filter, page: 1 }, place.search);
      navigate(`/${to}`);
      focusById("new-title");
    } catch (err) {
      const problem = describe(err, "todo");
      if (problem.sessionEnded || problem.cancelled) return;
      if (
        !showDraftErrors({ title: problem.fields.title, description: problem.fields.description }, setErrors, NEW_IDS)
      ) {
        const reached = problem.cause.startsWith("no-answer")
          ? describe(err, "todo", (await session.answers("auth")) ? "other-answers" : "neither-answers")
          : problem;
        setFormError(`Not added: ${reached.message}`);
        announce(`Not added: ${reached.message}`, { assertive: true });
        focusById("new-error");
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <form id="new-todo" className="card add-form" noValidate onSubmit={submit} aria-labelledby="new-heading">
      <h2 id="new-heading">Add a todo</h2>
      <DraftFields
        ids={NEW_IDS}
        named
        details={{ label: "Details (optional)", rows: 2, counted: true }}
        draft={draft}
        errors={errors}
        setDraft={setDraft}
        setErrors={setErrors}
      />
      <FormError id="new-error">{formError}</FormError>
      <button type="submit" aria-disabled={busy || undefined}>
        {busy ? "Adding…" : "Add"}
      </button>
    </form>
  );
}

function TodoList({ user }: { user: string }) {
  const { config } = useApp();
  const list = useTodoList();
  const deletes = useDeletes();
  const { update } = useTodoActions();
  const place = usePlace();
  const { filter, page } = parseListPlace(place.search);
  const [editing, setEditingState] = useState<string | null>(() => loadDraft<string>(user, "editing"));
  const setEditing = (id: string | null) => {
    setEditingState(id);
    saveDraft(user, "editing", id);
  };
  // Todos changed in this view stay visible until the filter or page changes, so a
  // tick in "Open" does not make the row (and the focus in it) vanish.
  const [pinned, setPinned] = useState<Set<string>>(new Set());
  const viewKey = `${filter}:${page}`;
  const lastView = useRef(viewKey);
  if (lastView.current !== viewKey) {
    lastView.current = viewKey;
    if (pinned.size) setPinned(new Set());
  }
  const pin = (id: string) => setPinned((s) => new Set(s).add(id));

  const all = list.data ?? [];
  const batchHidden = new Set(deletes.pending.filter((p) => p.batch).flatMap((p) => p.todos.map((t) => t.id)));
  const pendingSingle = new Map(deletes.pending.filter((p) => !p.batch).map((p) => [p.todos[0].id, p] as const));
  const live = all.filter((t) => !deletes.hiddenIds.has(t.id));
  const openCount = live.filter((t) => !t.completed).length;
  const doneTodos = live.filter((t) => t.completed);
  const counts: Record<Filter, number> = { all: live.length, open: openCount, done: doneTodos.length };
  const shown = all.filter(
    (t) => !batchHidden.has(t.id) && (matches(filter, t) || pinned.has(t.id) || pendingSingle.has(t.id)),
  );
  const pages = pageCount(shown.length, config.pageSize);
  const current = clampPage(page, shown.length, config.pageSize);
  const rows = shown.slice((current - 1) * config.pageSize, current * config.pageSize);

  // A page that no longer exists (emptied by deletes, or typed in): the last one.
  useEffect(() => {
    if (list.data && current !== page)
      navigate(`/${listSearch({ filter, page: current }, place.search)}`, { replace: true });
  }, [list.data, current, page, filter, place.search]);

  const goToPage = (p: number) => {
    navigate(`/${listSearch({ filter, page: p }, place.search)}`);
    focusById("list-heading");
  };

  const remove = (todo: Todo) => {
    if (editing === todo.id) setEditing(null);
    deletes.schedule([todo], false);
    focusById(`undo-${todo.id}`);
  };

  const clearCompleted = () => {
    if (doneTodos.length === 0) return;
    deletes.schedule(doneTodos, true);
    focusById("undo-clear");
  };

  const clearBatch = deletes.pending.filter((p) => p.batch).at(-1);
  const heading = `${HEADING[filter]}${pages > 1 ? `, page ${current} of ${pages}` : ""}`;

  return (
    <section className="list-section" aria-labelledby="list-heading">
      <h2 id="list-heading" tabIndex={-1}>
        {heading}
      </h2>
      <p id="list-summary" className="summary">
        {list.data ? (
          <>
            <strong>{openCount}</strong> {openCount === 1 ? "todo" : "todos"} left
            {doneTodos.length > 0 && <>, {doneTodos.length} done</>} ({live.length} in all)
          </>
        ) : list.isError ? (
          "Your todos could not be loaded."
        ) : (
          "Loading your todos…"
        )}
      </p>
      <nav aria-label="Filter" className="filters">
        <ul>
          {FILTERS.map((f) => (
            <li key={f}>
              <Link
                to={`/${listSearch({ filter: f, page: 1 }, place.search)}`}
                aria-current={f === filter ? "page" : undefined}
              >
                {FILTER_LABEL[f]} <span className="count">({counts[f]})</span>
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      {clearBatch && (
        <div className="undo-bar" id="clear-undo-bar">
          <p>
            Cleared {clearBatch.todos.length} completed {clearBatch.todos.length === 1 ? "todo" : "todos"}.
          </p>
          <button
            type="button"
            id="undo-clear"
            aria-disabled={clearBatch.committing || undefined}
            onFocus={() => deletes.pause(clearBatch.key)}
            onBlur={() => deletes.resume(clearBatch.key)}
            onClick={() => {
              deletes.undo(clearBatch.key);
              focusById("list-heading");
            }}
          >
            Undo
          </button>
        </div>
      )}
      <ul
        id="todo-list"
        className="todos"
        aria-labelledby="list-heading"
        aria-describedby="list-summary"
        aria-busy={list.isPending || undefined}
      >
        {list.data && rows.length === 0 && (
          <li className="empty">
            {filter === "all"
              ? "No todos yet. Add one above."
              : filter === "open"
                ? "Nothing open. Well done!"
                : "Nothing done yet."}
          </li>
        )}
        {rows.map((todo) => {
          const pendingDelete = pendingSingle.get(todo.id);
          if (pendingDelete) {
            return (
              <li key={todo.id} className="todo deleted" data-id={todo.id}>
                <p>Deleted “{todo.title}”.</p>
                <button
                  type="button"
                  id={`undo-${todo.id}`}
                  className="secondary"
                  aria-disabled={pendingDelete.committing || undefined}
                  onFocus={() => deletes.pause(pendingDelete.key)}
                  onBlur={() => deletes.resume(pendingDelete.key)}
                  onClick={() => {
                    deletes.undo(pendingDelete.key);
                    focusById(`done-${todo.id}`);
                  }}
                >
                  Undo<span className="visually-hidden"> delete of {todo.title}</span>
                </button>
              </li>
            );
          }
          if (editing === todo.id) {
            return (
              <TodoEditor
                key={todo.id}
                user={user}
                todo={todo}
                onDone={(saved) => {
                  setEditing(null);
                  focusById(`edit-${todo.id}`);
                  if (saved) {
                    pin(todo.id);
                    void update(todo, saved, `Your edit of “${todo.title}”`);
                  }
                }}
              />
            );
          }
          return (
            <TodoItem
              key={todo.id}
              todo={todo}
              onToggle={(completed) => {
                pin(todo.id);
                void update(todo, { completed }, `Marking “${todo.title}” ${completed ? "done" : "not done"}`);
              }}
              onEdit={() => {
                setEditing(todo.id);
                focusById(`edit-title-${todo.id}`);
              }}
              onDelete={() => remove(todo)}
            />
          );
        })}
      </ul>
      {(pages > 1 || doneTodos.length > 0) && (
        <div className="list-footer">
          {pages > 1 && (
            <nav aria-label="Pages" className="pager">
              <button type="button" className="secondary" disabled={current <= 1} onClick={() => goToPage(current - 1)}>
                Previous page
              </button>
              <p id="page-status">
                Page {current} of {pages}
              </p>
              <button
                type="button"
                className="secondary"
                disabled={current >= pages}
                onClick={() => goToPage(current + 1)}
              >
                Next page
              </button>
            </nav>
          )}
          {doneTodos.length > 0 && (
            <button type="button" className="secondary" id="clear-completed" onClick={clearCompleted}>
              Clear completed ({doneTodos.length})
            </button>
          )}
        </div>
      )}
    </section>
  );
}

function TodoItem({
  todo,
  onToggle,
  onEdit,
  onDelete,
}: {
  todo: Todo;
  onToggle: (completed: boolean) => void;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const created = todo.createTime ? timestampDate(todo.createTime) : null;
  return (
    <li className={todo.completed ? "todo done" : "todo"} data-id={todo.id}>
      <div className="todo-head">
        <input
          type="checkbox"
          id={`done-${todo.id}`}
          checked={todo.completed}
          onChange={(e) => onToggle(e.target.checked)}
        />
        <label htmlFor={`done-${todo.id}`} className="title">
          {todo.title}
        </label>
      </div>
      {todo.description && <p className="description">{todo.description}</p>}
      {created && (
        <p className="meta">
          Added <time dateTime={created.toISOString()}>{formatDateTime(created)}</time>
          {todo.completed && <span className="badge">Done</span>}
        </p>
      )}
      <div className="actions">
        <button type="button" className="secondary" id={`edit-${todo.id}`} onClick={onEdit}>
          Edit<span className="visually-hidden"> {todo.title}</span>
        </button>
        <button type="button" className="secondary danger" id={`delete-${todo.id}`} onClick={onDelete}>
          Delete<span className="visually-hidden"> {todo.title}</span>
        </button>
      </div>
    </li>
  );
}

function TodoEditor({
  user,
  todo,
  onDone,
}: {
  user: string;
  todo: Todo;
  onDone: (saved: { title: string; description: string } | null) => void;
}) {
  const draftName = `edit.${todo.id}`;
  const [draft, setDraftState] = useState<Draft>(
    () => loadDraft<Draft>(user, draftName) ?? { title: todo.title, description: todo.description },
  );
  const [errors, setErrors] = useState<DraftErrors>({});
  const setDraft = (d: Draft) => {
    setDraftState(d);
    saveDraft(user, draftName, d);
  };
  const finish = (saved: Draft | null) => {
    saveDraft(user, draftName, null);
    onDone(saved);
  };
  const ids = { title: `edit-title-${todo.id}`, description: `edit-description-${todo.id}` };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const found = { title: titleProblem(draft.title), description: descriptionProblem(draft.description) };
    if (showDraftErrors(found, setErrors, ids)) return;
    const title = draft.title.trim();
    if (title === todo.title && draft.description === todo.description) finish(null);
    else finish({ title, description: draft.description });
  };
  const keydown = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      finish(null);
    }
  };
  return (
    <li className="todo editing" data-id={todo.id}>
      <form noValidate onSubmit={submit} onKeyDown={keydown} aria-label={`Edit ${todo.title}`}>
        <DraftFields
          ids={ids}
          details={{ label: "Details", rows: 3, counted: false }}
          draft={draft}
          errors={errors}
          setDraft={setDraft}
          setErrors={setErrors}
        />
        <FormError id={`edit-error-${todo.id}`}>{null}</FormError>
        <div className="actions">
          <button type="submit">Save</button>
          <button type="button" className="secondary" onClick={() => finish(null)}>
            Cancel
          </button>
        </div>
      </form>
    </li>
  );
}
