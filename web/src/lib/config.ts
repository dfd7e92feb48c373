// Where the two services are, and a few knobs. Defaults: the page's own host on the
// services' default ports, so a page on http://localhost:5173 talks to
// http://localhost:50051 and :50052 (same site, which the SameSite=Strict refresh
// cookie needs). Overrides, strongest first: a `config.json` served beside index.html,
// then VITE_AUTH_URL / VITE_TODO_URL at build time.

export interface Config {
  authUrl: string;
  todoUrl: string;
  /** Todos shown on one page of the list. */
  pageSize: number;
  /** Todos asked for per ListTodos call while the whole list is read (server max 1000). */
  fetchPageSize: number;
  /** How long a deleted todo can be brought back before the delete is sent. */
  undoMs: number;
  /** First retry delay after a transient failure; doubles each time. */
  retryBaseMs: number;
}

export function defaultConfig(): Config {
  const host = `${location.protocol}//${location.hostname}`;
  return {
    authUrl: import.meta.env.VITE_AUTH_URL || `${host}:50051`,
    todoUrl: import.meta.env.VITE_TODO_URL || `${host}:50052`,
    pageSize: 10,
    fetchPageSize: 1000,
    undoMs: 8000,
    retryBaseMs: 1000,
  };
}

/** Applies the known, well-typed keys of `given` over `base`. */
export function mergeConfig(base: Config, given: unknown): Config {
  const config = { ...base };
  if (given && typeof given === "object") {
    const g = given as Record<string, unknown>;
    for (const key of ["authUrl", "todoUrl"] as const) {
      if (typeof g[key] === "string" && g[key]) config[key] = g[key];
    }
    for (const key of ["pageSize", "fetchPageSize", "undoMs", "retryBaseMs"] as const) {
      const v = g[key];
      if (typeof v === "number" && Number.isFinite(v) && v > 0) config[key] = v;
    }
  }
  config.authUrl = config.authUrl.replace(/\/+$/, "");
  config.todoUrl = config.todoUrl.replace(/\/+$/, "");
  config.fetchPageSize = Math.min(config.fetchPageSize, 1000);
  return config;
}

export async function loadConfig(): Promise<Config> {
  let given: unknown = null;
  try {
    const res = await fetch(`${import.meta.env.BASE_URL}config.json`, { cache: "no-store" });
    if (res.ok) given = await res.json();
  } catch {
    // No config.json (or not JSON): the defaults stand.
  }
  return mergeConfig(defaultConfig(), given);
}
