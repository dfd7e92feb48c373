// The two gRPC-Web clients and the browser session.
//
// The access token lives only in this module's memory. The refresh token never
// reaches script: for gRPC-Web the auth-service returns it as an HttpOnly cookie
// (Path=/auth.v1.AuthService/) and reads it back when Refresh or Logout is sent
// with an empty refresh_token. Refresh rotates that cookie, and presenting an
// already-rotated token revokes the whole session, so refreshes are strictly one at
// a time: one shared promise per page, and a Web Lock across tabs.

import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuthService, type User } from "./gen/auth/v1/auth_pb";
import { TodoService } from "./gen/todo/v1/todo_pb";
import type { Config } from "./config";

/** Raised when the session is over (refresh refused): the page shows the login screen. */
export class SessionEndedError extends Error {
  constructor() {
    super("Your session has ended. Please log in again.");
    this.name = "SessionEndedError";
  }
}

type Listener = () => void;

export class Api {
  private readonly auth: Client<typeof AuthService>;
  private readonly todo: Client<typeof TodoService>;
  private accessToken: string | null = null;
  /** Local-clock time (ms) after which the access token is treated as expired. */
  private expiresAt = 0;
  private refreshing: Promise<boolean> | null = null;
  private onSessionEnded: Listener = () => {};

  constructor(config: Config) {
    // The cookie must travel on cross-origin (same-site) calls: credentials "include".
    const fetchWithCookies: typeof fetch = (input, init) =>
      fetch(input, { ...init, credentials: "include" });
    const transport = (baseUrl: string) =>
      createGrpcWebTransport({
        baseUrl,
        useBinaryFormat: true,
        fetch: fetchWithCookies,
        defaultTimeoutMs: 15_000,
      });
    this.auth = createClient(AuthService, transport(config.authUrl));
    this.todo = createClient(TodoService, transport(config.todoUrl));
  }

  /** Called once when a refresh is refused in the middle of using the page. */
  setSessionEndedListener(listener: Listener): void {
    this.onSessionEnded = listener;
  }

  get signedIn(): boolean {
    return this.accessToken !== null;
  }

  async register(username: string, password: string): Promise<void> {
    await this.auth.register({ username, password });
  }

  async login(username: string, password: string): Promise<void> {
    const pair = await this.auth.login({ username, password });
    // pair.refreshToken is empty for gRPC-Web (it came as a cookie); it is never kept.
    this.setAccess(pair.accessToken, pair.expiresIn);
  }

  /**
   * Gets a new access token from the refresh cookie. True on success, false when
   * there is no session (no cookie, or it was revoked or expired); other failures
   * (network, server down) are thrown. Concurrent callers share one call.
   */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = withRefreshLock(() => this.refreshOnce()).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async refreshOnce(): Promise<boolean> {
    try {
      const pair = await this.auth.refresh({ refreshToken: "" });
      this.setAccess(pair.accessToken, pair.expiresIn);
      return true;
    } catch (e) {
      const err = ConnectError.from(e);
      // UNAUTHENTICATED: no valid cookie. INVALID_ARGUMENT: no cookie at all, on a
      // server that asks for the token field. Either way there is no session.
      if (err.code === Code.Unauthenticated || err.code === Code.InvalidArgument) {
        this.clear();
        return false;
      }
      throw err;
    }
  }

  /** Ends the session at the auth-service (which clears the cookie), then locally. */
  async logout(): Promise<void> {
    try {
      await this.auth.logout({ refreshToken: "" });
    } catch (e) {
      // INVALID_ARGUMENT: no cookie was sent, so this browser has no session left
      // (another tab logged out already). Anything else is a real failure.
      if (ConnectError.from(e).code !== Code.InvalidArgument) throw e;
    }
    this.clear();
  }

  getMe(): Promise<User> {
    return this.withAuth((headers) => this.auth.getMe({}, { headers }));
  }

  listTodos(pageSize: number, pageToken: string, completed?: boolean) {
    return this.withAuth((headers) =>
      this.todo.listTodos({ pageSize, pageToken, completed }, { headers }),
    );
  }

  createTodo(title: string, description: string) {
    return this.withAuth((headers) => this.todo.createTodo({ title, description }, { headers }));
  }

  updateTodo(id: string, fields: { title?: string; description?: string; completed?: boolean }) {
    const paths = Object.keys(fields).filter(
      (k) => fields[k as keyof typeof fields] !== undefined,
    );
    return this.withAuth((headers) =>
      this.todo.updateTodo(
        { todo: { id, ...fields }, updateMask: { paths } },
        { headers },
      ),
    );
  }

  async deleteTodo(id: string): Promise<void> {
    await this.withAuth((headers) => this.todo.deleteTodo({ id }, { headers }));
  }

  /**
   * Runs an authenticated call. A token the local clock says has expired is
   * refreshed first; a call refused with UNAUTHENTICATED (the server's clock, a
   * rotated signing key) is refreshed and retried once. When refreshing is refused
   * the session is over: the listener runs and SessionEndedError is thrown.
   */
  private async withAuth<T>(call: (headers: HeadersInit) => Promise<T>): Promise<T> {
    if (this.accessToken === null || Date.now() >= this.expiresAt) {
      await this.refreshOrEnd();
    }
    const tokenUsed = this.accessToken;
    try {
      return await call(this.bearer());
    } catch (e) {
      const err = ConnectError.from(e);
      if (err.code !== Code.Unauthenticated) throw err;
      // Another call may already have refreshed while this one was out.
      if (this.accessToken === tokenUsed) await this.refreshOrEnd();
      return await call(this.bearer());
    }
  }

  private async refreshOrEnd(): Promise<void> {
    if (!(await this.refresh())) {
      this.clear();
      this.onSessionEnded();
      throw new SessionEndedError();
    }
  }

  private bearer(): HeadersInit {
    return { authorization: `Bearer ${this.accessToken ?? ""}` };
  }

  private setAccess(token: string, expiresInSeconds: bigint): void {
    this.accessToken = token;
    this.expiresAt = Date.now() + Number(expiresInSeconds) * 1000;
  }

  private clear(): void {
    this.accessToken = null;
    this.expiresAt = 0;
  }
}

/** Serialises refreshes across this origin's tabs where the Web Locks API exists. */
function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (!locks) return fn();
  return locks.request("todo-grpc-refresh", fn) as Promise<T>;
}

/** Words for a person, from any error a call can raise. */
export function describeError(e: unknown): string {
  if (e instanceof SessionEndedError) return e.message;
  const err = ConnectError.from(e);
  const msg = err.rawMessage;
  switch (err.code) {
    case Code.Unavailable:
      return "The service is unavailable right now. Please try again in a moment.";
    case Code.DeadlineExceeded:
      return "The server took too long to answer. Please try again.";
    case Code.Unknown:
    case Code.Aborted:
    case Code.Canceled:
      if (/fetch|network|load failed/i.test(msg)) {
        return "Cannot reach the server. Check your connection and try again.";
      }
      return msg || "Something went wrong. Please try again.";
    case Code.Internal:
      return "Something went wrong on the server. Please try again.";
    case Code.AlreadyExists:
      return msg || "That already exists.";
    case Code.ResourceExhausted:
      return msg || "Too many attempts. Please wait a little and try again.";
    default:
      return msg ? capitalise(msg) : `Request failed (${Code[err.code]}).`;
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
