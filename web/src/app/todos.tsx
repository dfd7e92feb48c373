// The caller's todos as server state (TanStack Query through connect-query's
// callUnaryMethod on the generated client), and the changes to them:
//
// - The whole list is read (pages of `fetchPageSize`, following next_page_token):
//   the service has no count, and counting what is left, "page 1 of N" and "clear
//   completed" need all of it. Paging and filtering happen here.
// - Ticks and edits are optimistic: the cache changes at once, the call follows
//   (retried with back-off on transient failures), and a failure puts back what
//   was there and says what was not saved, with a retry.
// - A delete is held back for `undoMs` so it can be undone, then sent.

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { callUnaryMethod } from "@connectrpc/connect-query";
import { type QueryClient, useQuery } from "@tanstack/react-query";
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import { type Todo, TodoSchema, TodoService } from "../gen/todo/v1/todo_pb";
import type { Session } from "../lib/api";
import type { Config } from "../lib/config";
import { backoff, isTransient } from "../lib/retry";
import { useAnnounce } from "./announce";
import { useApp } from "./context";
import { useNotices } from "./notices";

async function fetchAll(session: Session, config: Config, signal: AbortSignal): Promise<Todo[]> {
  const all: Todo[] = [];
  let pageToken = "";
  do {
    const res = await callUnaryMethod(
      session.transport,
      TodoService.method.listTodos,
      { pageSize: config.fetchPageSize, pageToken },
      { signal },
    );
    all.push(...res.todos);
    pageToken = res.nextPageToken;
  } while (pageToken);
  return all;
}

export function useTodoList() {
  const { session, config } = useApp();
  return useQuery({
    queryKey: ["todos", "all"],
    queryFn: ({ signal }) => fetchAll(session, config, signal),
    meta: { service: "todo" },
  });
}

const LIST_KEY = ["todos", "all"];

function patchTodo(client: QueryClient, id: string, patch: Partial<Todo>): Todo | undefined {
  let before: Todo | undefined;
  client.setQueryData<Todo[]>(LIST_KEY, (list) =>
    list?.map((t) => {
      if (t.id !== id) return t;
      before = t;
      return create(TodoSchema, { ...t, ...patch });
    }),
  );
  return before;
}

/** Puts back `before`'s values of `fields`, unless a later change replaced them. */
function revertTodo(client: QueryClient, before: Todo, optimistic: Partial<Todo>): void {
  client.setQueryData<Todo[]>(LIST_KEY, (list) =>
    list?.map((t) => {
      if (t.id !== before.id) return t;
      const back: Partial<Todo> = {};
      for (const [k, v] of Object.entries(optimistic) as [keyof Todo, unknown][]) {
        if (t[k] === v) (back as Record<string, unknown>)[k] = before[k];
      }
      return create(TodoSchema, { ...t, ...back });
    }),
  );
}

function replaceTodo(client: QueryClient, todo: Todo): void {
  client.setQueryData<Todo[]>(LIST_KEY, (list) => list?.map((t) => (t.id === todo.id ? todo : t)));
}

/** Calls `fn`, retrying transient failures up to `retries` times with back-off. */
async function withRetries<T>(fn: () => Promise<T>, retries: number, baseMs: number): Promise<T> {
  const delay = backoff(baseMs);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= retries || !isTransient(e)) throw e;
      await new Promise((r) => setTimeout(r, delay(attempt, e)));
    }
  }
}

export function useTodoActions() {
  const { session, queryClient, config } = useApp();
  const notices = useNotices();

  const update = useCallback(
    async (todo: Todo, patch: Partial<Pick<Todo, "title" | "description" | "completed">>, unsaved: string) => {
      const paths = Object.keys(patch);
      // The change shows at once; a list read in flight would undo it, so it is dropped.
      void queryClient.cancelQueries({ queryKey: LIST_KEY });
      const before = patchTodo(queryClient, todo.id, patch) ?? todo;
      try {
        const saved = await withRetries(
          () =>
            callUnaryMethod(session.transport, TodoService.method.updateTodo, {
              todo: { id: todo.id, ...patch },
              updateMask: { paths },
            }),
          2,
          config.retryBaseMs,
        );
        replaceTodo(queryClient, saved);
        return true;
      } catch (e) {
        revertTodo(queryClient, before, patch);
        // Deleted elsewhere (another tab, another device): read the list again.
        if (e instanceof ConnectError && e.code === Code.NotFound)
          void queryClient.invalidateQueries({ queryKey: LIST_KEY });
        const retry = () => update(before, patch, unsaved);
        await notices.report(e, "todo", { unsaved, retry });
        return false;
      }
    },
    [session, queryClient, config.retryBaseMs, notices],
  );

  const createTodo = useCallback(
    async (title: string, description: string) => {
      const todo = await callUnaryMethod(session.transport, TodoService.method.createTodo, { title, description });
      queryClient.setQueryData<Todo[]>(LIST_KEY, (list) => [todo, ...(list ?? []).filter((t) => t.id !== todo.id)]);
      return todo;
    },
    [session, queryClient],
  );

  const deleteNow = useCallback(
    (id: string) =>
      withRetries(
        () => callUnaryMethod(session.transport, TodoService.method.deleteTodo, { id }),
        2,
        config.retryBaseMs,
      ).catch((e) => {
        // Already gone is what was wanted.
        if (e instanceof ConnectError && e.code === Code.NotFound) return;
        throw e;
      }),
    [session, config.retryBaseMs],
  );

  return { update, createTodo, deleteNow };
}

// ---------------------------------------------------------------- deletes with undo

export interface PendingDelete {
  key: string;
  todos: Todo[];
  /** One todo deleted from its row (shown in place), or many (clear completed). */
  batch: boolean;
  committing: boolean;
}

interface DeletesApi {
  pending: PendingDelete[];
  hiddenIds: Set<string>;
  schedule(todos: Todo[], batch: boolean): string;
  undo(key: string): void;
  pause(key: string): void;
  resume(key: string): void;
}

const DeletesContext = createContext<DeletesApi | null>(null);

export function useDeletes(): DeletesApi {
  const api = useContext(DeletesContext);
  if (!api) throw new Error("useDeletes outside DeletesProvider");
  return api;
}

const quote = (t: Todo) => `“${t.title}”`;

export function DeletesProvider({ children }: { children: ReactNode }) {
  const { config, queryClient } = useApp();
  const { deleteNow } = useTodoActions();
  const notices = useNotices();
  const announce = useAnnounce();
  const [pending, setPending] = useState<PendingDelete[]>([]);
  const timers = useRef(new Map<string, number>());
  const pendingRef = useRef(pending);
  pendingRef.current = pending;
  const seq = useRef(0);

  const commit = useCallback(
    async (key: string) => {
      window.clearTimeout(timers.current.get(key));
      timers.current.delete(key);
      const item = pendingRef.current.find((p) => p.key === key);
      if (!item || item.committing) return;
      setPending((list) => list.map((p) => (p.key === key ? { ...p, committing: true } : p)));
      const results = await Promise.allSettled(item.todos.map((t) => deleteNow(t.id)));
      const done = new Set(item.todos.filter((_, i) => results[i].status === "fulfilled").map((t) => t.id));
      queryClient.setQueryData<Todo[]>(LIST_KEY, (list) => list?.filter((t) => !done.has(t.id)));
      setPending((list) => list.filter((p) => p.key !== key));
      const failed = item.todos.filter((t) => !done.has(t.id));
      const firstFailure = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
      if (failed.length > 0 && firstFailure) {
        const what = failed.length === 1 ? `Deleting ${quote(failed[0])}` : `Deleting ${failed.length} todos`;
        await notices.report(firstFailure.reason, "todo", {
          unsaved: what,
          retry: () => {
            for (const t of failed)
              void deleteNow(t.id).then(() => queryClient.invalidateQueries({ queryKey: LIST_KEY }));
          },
        });
      }
    },
    [deleteNow, queryClient, notices],
  );

  const start = useCallback(
    (key: string) => {
      window.clearTimeout(timers.current.get(key));
      timers.current.set(
        key,
        window.setTimeout(() => void commit(key), config.undoMs),
      );
    },
    [commit, config.undoMs],
  );

  const schedule = useCallback(
    (todos: Todo[], batch: boolean) => {
      const key = `d${++seq.current}`;
      setPending((list) => [...list, { key, todos, batch, committing: false }]);
      pendingRef.current = [...pendingRef.current, { key, todos, batch, committing: false }];
      start(key);
      announce(
        batch
          ? `Cleared ${todos.length} completed ${todos.length === 1 ? "todo" : "todos"}. Undo is available for a few seconds.`
          : `Deleted ${quote(todos[0])}. Undo is available for a few seconds.`,
      );
      return key;
    },
    [start, announce],
  );

  const undo = useCallback(
    (key: string) => {
      const item = pendingRef.current.find((p) => p.key === key);
      if (!item || item.committing) return;
      window.clearTimeout(timers.current.get(key));
      timers.current.delete(key);
      setPending((list) => list.filter((p) => p.key !== key));
      announce(item.batch ? `Restored ${item.todos.length} completed todos.` : `Restored ${quote(item.todos[0])}.`);
    },
    [announce],
  );

  const pause = useCallback((key: string) => {
    window.clearTimeout(timers.current.get(key));
    timers.current.delete(key);
  }, []);

  // Leaving the page sends what is waiting; a delete cut short by the page closing
  // leaves the todo in place (nothing is lost, it shows again next time).
  useEffect(() => {
    const flush = () => {
      for (const p of pendingRef.current) void commit(p.key);
    };
    window.addEventListener("pagehide", flush);
    return () => window.removeEventListener("pagehide", flush);
  }, [commit]);

  const hiddenIds = useMemo(() => new Set(pending.flatMap((p) => p.todos.map((t) => t.id))), [pending]);
  const api = useMemo<DeletesApi>(
    () => ({ pending, hiddenIds, schedule, undo, pause, resume: start }),
    [pending, hiddenIds, schedule, undo, pause, start],
  );
  return <DeletesContext.Provider value={api}>{children}</DeletesContext.Provider>;
}
