// The gRPC-Web transport to both services, and the browser session.
//
// The access token lives only in this module's memory. The refresh token never
// reaches script: for gRPC-Web the auth-service returns it as an HttpOnly cookie
// (Path=/auth.v1.AuthService/) and reads it back when Refresh or Logout is sent
// with an empty refresh_token. Refresh rotates that cookie, and presenting an
// already-rotated token revokes the whole session, so refreshes are strictly one at
// a time: one shared promise per page, and a Web Lock across tabs.
//
// One Transport serves both services (it picks the base URL by service), so the
// connect-query hooks need no per-call transport. An interceptor adds the bearer
// token to every call that needs one, refreshes it first when the page's clock says
// it expired, and refreshes and retries once when the server refuses it.

import type { DescMethodStreaming, DescMethodUnary } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuthService } from "../gen/auth/v1/auth_pb";
import { TodoService } from "../gen/todo/v1/todo_pb";
import type { Config } from "./config";

export type ServiceName = "auth" | "todo";

/** A call that got no answer at all: connection refused, CORS refusal, offline. */
export class NetworkError extends Error {
  constructor(
    readonly service: ServiceName,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = "NetworkError";
  }
}

/** Raised when the session is over (refresh refused): the page shows the login screen. */
export class SessionEndedError extends Error {
  constructor() {
    super("Your session has ended.");
    this.name = "SessionEndedError";
  }
}

/** AuthService RPCs that take no bearer token. */
const PUBLIC_AUTH_METHODS = new Set([
  "Register",
  "Login",
  "Refresh",
  "Logout",
  "VerifyToken",
  "VerifyEmail",
  "RequestPasswordReset",
  "ResetPassword",
]);

export function serviceOf(typeName: string): ServiceName {
  return typeName === TodoService.typeName ? "todo" : "auth";
}

export class Session {
  readonly transport: Transport;
  readonly auth: Client<typeof AuthService>;
  readonly todo: Client<typeof TodoService>;
  private accessToken: string | null = null;
  /** Local-clock time (ms) after which the access token is treated as expired. */
  private expiresAt = 0;
  private refreshing: Promise<boolean> | null = null;
  private onEnded: () => void = () => {};

  constructor(config: Config) {
    const fetchFor =
      (service: ServiceName): typeof fetch =>
      async (input, init) => {
        try {
          // The cookie must travel on cross-origin (same-site) calls.
          return await fetch(input, { ...init, credentials: "include" });
        } catch (e) {
          // Aborts (timeouts, unmounts) stay what they are; the rest got no answer.
          if (e instanceof Error && (e.name === "AbortError" || e.name === "TimeoutError")) throw e;
          throw new NetworkError(service, e);
        }
      };
    const bearer: Interceptor = (next) => async (req) => {
      if (req.service.typeName === AuthService.typeName && PUBLIC_AUTH_METHODS.has(req.method.name)) {
        return next(req);
      }
      // A caller that brings its own credentials (the reachability probe) is left alone.
      if (req.header.has("authorization")) return next(req);
      if (this.accessToken === null || Date.now() >= this.expiresAt) await this.refreshOrEnd();
      const used = this.accessToken;
      req.header.set("authorization", `Bearer ${used ?? ""}`);
      try {
        return await next(req);
      } catch (e) {
        if (ConnectError.from(e).code !== Code.Unauthenticated) throw e;
        // Another call may already have refreshed while this one was out.
        if (this.accessToken === used) await this.refreshOrEnd();
        req.header.set("authorization", `Bearer ${this.accessToken ?? ""}`);
        return await next(req);
      }
    };
    const make = (service: ServiceName, baseUrl: string) =>
      createGrpcWebTransport({
        baseUrl,
        useBinaryFormat: true,
        fetch: fetchFor(service),
        defaultTimeoutMs: 15_000,
        interceptors: [bearer],
      });
    const transports = { auth: make("auth", config.authUrl), todo: make("todo", config.todoUrl) };
    const pick = (method: DescMethodUnary | DescMethodStreaming) => transports[serviceOf(method.parent.typeName)];
    this.transport = {
      unary: (method, ...rest) => pick(method).unary(method, ...rest),
      stream: (method, ...rest) => pick(method).stream(method, ...rest),
    };
    this.auth = createClient(AuthService, this.transport);
    this.todo = createClient(TodoService, this.transport);
  }

  /** Called when a refresh is refused in the middle of using the page. */
  onSessionEnded(listener: () => void): void {
    this.onEnded = listener;
  }

  get signedIn(): boolean {
    return this.accessToken !== null;
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
      // UNAUTHENTICATED: no valid cookie. INVALID_ARGUMENT: no cookie at all.
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

  /** Forgets the access token (after the account was deleted, or a session ended). */
  clear(): void {
    this.accessToken = null;
    this.expiresAt = 0;
  }

  /**
   * Whether `service` answers at all: any gRPC status counts, only "no answer" does
   * not. Used to tell "the todo service is not answering" from "you are offline".
   */
  async answers(service: ServiceName): Promise<boolean> {
    try {
      if (service === "auth") await this.auth.verifyToken({ accessToken: "" }, { timeoutMs: 5000 });
      // A made-up token: any answer (UNAUTHENTICATED) shows the service is up, and no
      // refresh is attempted for it.
      else await this.todo.getTodo({ id: "" }, { timeoutMs: 5000, headers: { authorization: "Bearer probe" } });
      return true;
    } catch (e) {
      return !isNoAnswer(e);
    }
  }

  private async refreshOrEnd(): Promise<void> {
    if (!(await this.refresh())) {
      this.clear();
      this.onEnded();
      throw new SessionEndedError();
    }
  }

  private setAccess(token: string, expiresInSeconds: bigint): void {
    this.accessToken = token;
    this.expiresAt = Date.now() + Number(expiresInSeconds) * 1000;
  }
}

/** True when `e` is (or wraps, as connect does for errors thrown in interceptors) a session end. */
export function isSessionEnded(e: unknown): boolean {
  return e instanceof SessionEndedError || (e instanceof ConnectError && e.cause instanceof SessionEndedError);
}

/** True when a call got no gRPC answer (network, CORS, refused connection). */
export function isNoAnswer(e: unknown): boolean {
  return noAnswerFrom(e) !== null;
}

/** The service that did not answer, or null when the error is an answer. */
export function noAnswerFrom(e: unknown): ServiceName | null {
  if (e instanceof NetworkError) return e.service;
  if (e instanceof ConnectError && e.cause instanceof NetworkError) return e.cause.service;
  return null;
}

/** Serialises refreshes across this origin's tabs where the Web Locks API exists. */
function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (!locks) return fn();
  return locks.request("todo-grpc-refresh", fn) as Promise<T>;
}
