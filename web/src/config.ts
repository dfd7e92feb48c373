// Where the two services are. Defaults: the page's own host on the services'
// default ports, so a page on http://localhost:5173 talks to http://localhost:50051
// and :50052 (same site, which the SameSite=Strict refresh cookie needs).
// Overrides, strongest first: a `config.json` served beside index.html
// ({"authUrl": "...", "todoUrl": "..."}), then VITE_AUTH_URL / VITE_TODO_URL at build time.

export interface Config {
  authUrl: string;
  todoUrl: string;
  pageSize: number;
}

function defaults(): Config {
  const host = `${location.protocol}//${location.hostname}`;
  return {
    authUrl: import.meta.env.VITE_AUTH_URL || `${host}:50051`,
    todoUrl: import.meta.env.VITE_TODO_URL || `${host}:50052`,
    pageSize: 10,
  };
}

export async function loadConfig(): Promise<Config> {
  const config = defaults();
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    if (res.ok) {
      const given = (await res.json()) as Partial<Config>;
      if (typeof given.authUrl === "string") config.authUrl = given.authUrl;
      if (typeof given.todoUrl === "string") config.todoUrl = given.todoUrl;
      if (typeof given.pageSize === "number" && given.pageSize > 0) config.pageSize = given.pageSize;
    }
  } catch {
    // No config.json (or not JSON): the defaults stand.
  }
  config.authUrl = config.authUrl.replace(/\/+$/, "");
  config.todoUrl = config.todoUrl.replace(/\/+$/, "");
  return config;
}
