import type { QueryClient } from "@tanstack/react-query";
import { createContext, useContext } from "react";
import type { Session } from "../lib/api";
import type { Config } from "../lib/config";
import type { Problem } from "../lib/errors";

export interface AppServices {
  config: Config;
  session: Session;
  queryClient: QueryClient;
}

export const AppContext = createContext<AppServices | null>(null);

export function useApp(): AppServices {
  const app = useContext(AppContext);
  if (!app) throw new Error("useApp outside AppContext");
  return app;
}

export type AuthState =
  | { kind: "starting" }
  | { kind: "out"; notice?: string }
  | { kind: "in"; notice?: string }
  | { kind: "unreachable"; problem: Problem };

export interface AuthApi {
  auth: AuthState;
  /** After a successful Login: go to `next` (or the list), with an optional notice. */
  signedIn(options?: { notice?: string; next?: string }): void;
  /** After Logout or account deletion: the login screen with a notice (or stay, with `stay`). */
  signedOut(notice: string, options?: { stay?: boolean }): void;
  /** Clears the notice shown once. */
  clearNotice(): void;
}

export const AuthContext = createContext<AuthApi | null>(null);

export function useAuth(): AuthApi {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthContext");
  return auth;
}

/** Only same-app paths are followed after login (no open redirect). */
export function safeNext(next: string | null | undefined): string {
  if (!next?.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  if (/^\/(login|register)\b/.test(next)) return "/";
  return next;
}
