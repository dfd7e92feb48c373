// The shell: who is signed in, which screen the address asks for, the header, the
// problem notices. Start-up refreshes the session from the cookie; a sign-in
// service that does not answer is said as such (with a retry), not shown as being
// logged out.

import { useQuery } from "@connectrpc/connect-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { AuthService } from "../gen/auth/v1/auth_pb";
import { describe, type Problem } from "../lib/errors";
import { backoff } from "../lib/retry";
import { Account } from "../screens/Account";
import { Login, Register } from "../screens/Auth";
import { ForgotPassword, ResetPassword, VerifyEmail } from "../screens/Mail";
import { Todos } from "../screens/Todos";
import { useAnnounce } from "./announce";
import { type AuthApi, AuthContext, type AuthState, safeNext, useApp, useAuth } from "./context";
import { clearAllDrafts } from "./drafts";
import { focusMainHeading } from "./focus";
import { NoticeList, probeReach, useNotices } from "./notices";
import { Link, navigate, usePlace } from "./router";
import { ScreenHeading } from "./ui";

const PUBLIC_PATHS = new Set(["/verify-email", "/reset-password", "/forgot-password"]);
const GUEST_PATHS = new Set(["/login", "/register"]);
const MEMBER_PATHS = new Set(["/", "/account"]);

export function App() {
  const { session, queryClient, config } = useApp();
  const notices = useNotices();
  const announce = useAnnounce();
  const [auth, setAuth] = useState<AuthState>({ kind: "starting" });
  const place = usePlace();
  const attempt = useRef(0);
  const retryTimer = useRef<number | undefined>(undefined);

  const start = useCallback(async () => {
    window.clearTimeout(retryTimer.current);
    try {
      const resumed = await session.refresh();
      attempt.current = 0;
      setAuth(resumed ? { kind: "in" } : { kind: "out" });
    } catch (e) {
      let problem: Problem = describe(e, "auth");
      if (problem.cause === "no-answer:auth") problem = describe(e, "auth", await probeReach(session, "auth"));
      setAuth({ kind: "unreachable", problem });
      // Keep trying by itself, backing off; the button tries at once.
      const delay = backoff(Math.max(config.retryBaseMs, 1000))(attempt.current++, e);
      retryTimer.current = window.setTimeout(() => void start(), delay);
    }
  }, [session, config.retryBaseMs]);

  useEffect(() => {
    void start();
    return () => window.clearTimeout(retryTimer.current);
  }, [start]);

  useEffect(() => {
    session.onSessionEnded(() => {
      const here = location.pathname + location.search;
      queryClient.clear();
      notices.clear();
      const notice = "Your session has ended. Log in again to carry on; anything you typed is kept.";
      setAuth({ kind: "out", notice });
      announce(notice, { assertive: true });
      navigate(`/login?next=${encodeURIComponent(here)}`, { replace: true });
    });
  }, [session, queryClient, notices, announce]);

  const api = useMemo<AuthApi>(
    () => ({
      auth,
      signedIn: ({ notice, next } = {}) => {
        setAuth({ kind: "in", notice });
        navigate(safeNext(next), { replace: true });
      },
      signedOut: (notice, { stay = false } = {}) => {
        session.clear();
        queryClient.clear();
        notices.clear();
        setAuth({ kind: "out", notice });
        if (!stay) navigate("/login", { replace: true });
      },
      clearNotice: () => setAuth((a) => (a.kind === "in" || a.kind === "out" ? { kind: a.kind } : a)),
    }),
    [auth, queryClient, notices, session],
  );

  const signedIn = auth.kind === "in";
  let screen: React.ReactNode;
  let redirect: string | null = null;
  if (PUBLIC_PATHS.has(place.path)) {
    screen =
      place.path === "/verify-email" ? (
        <VerifyEmail />
      ) : place.path === "/reset-password" ? (
        <ResetPassword />
      ) : (
        <ForgotPassword />
      );
  } else if (auth.kind === "starting") {
    screen = <p className="muted">Loading…</p>;
  } else if (auth.kind === "unreachable") {
    screen = <Unreachable problem={auth.problem} onRetry={() => void start()} />;
  } else if (GUEST_PATHS.has(place.path)) {
    if (signedIn) redirect = safeNext(new URLSearchParams(place.search).get("next"));
    else screen = place.path === "/login" ? <Login /> : <Register />;
  } else if (MEMBER_PATHS.has(place.path)) {
    if (!signedIn)
      redirect = `/login${place.path === "/" && !place.search ? "" : `?next=${encodeURIComponent(place.path + place.search)}`}`;
    else screen = place.path === "/" ? <Todos /> : <Account />;
  } else {
    screen = <NotFound />;
  }

  useEffect(() => {
    if (redirect) navigate(redirect, { replace: true });
  }, [redirect]);

  // Arriving at another screen: focus its heading. The first screen of a page load
  // (after start-up and any redirect) leaves focus where the browser put it, so
  // the skip link is the first stop.
  const shownPath = useRef<string | null>(null);
  useEffect(() => {
    if (auth.kind === "starting" || redirect) return;
    if (shownPath.current === null) {
      shownPath.current = place.path;
      return;
    }
    if (shownPath.current === place.path) return;
    shownPath.current = place.path;
    focusMainHeading();
  });

  return (
    <AuthContext.Provider value={api}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header signedIn={signedIn} path={place.path} />
      <main id="main" tabIndex={-1}>
        <NoticeList />
        {screen}
      </main>
    </AuthContext.Provider>
  );
}

function Header({ signedIn, path }: { signedIn: boolean; path: string }) {
  return (
    <header className="bar">
      <p className="brand">
        <Link to="/">Todos</Link>
      </p>
      {signedIn && <SignedInBar path={path} />}
    </header>
  );
}

function SignedInBar({ path }: { path: string }) {
  const { session } = useApp();
  const { signedOut } = useAuth();
  const notices = useNotices();
  const me = useQuery(AuthService.method.getMe, {});
  const [busy, setBusy] = useState(false);
  const logout = async () => {
    setBusy(true);
    try {
      await session.logout();
    } catch (e) {
      setBusy(false);
      await notices.report(e, "auth", { unsaved: "Logging out", retry: logout });
      return;
    }
    clearAllDrafts();
    signedOut("You have logged out.");
  };
  return (
    <>
      <nav aria-label="Main" className="main-nav">
        <Link to="/" aria-current={path === "/" ? "page" : undefined}>
          List
        </Link>
        <Link to="/account" aria-current={path === "/account" ? "page" : undefined}>
          Account
        </Link>
      </nav>
      <div className="account-bar">
        <span className="who" data-testid="who">
          {me.data?.username ?? ""}
        </span>
        <button type="button" className="secondary" onClick={logout} aria-disabled={busy || undefined}>
          {busy ? "Logging out…" : "Log out"}
        </button>
      </div>
    </>
  );
}

function Unreachable({ problem, onRetry }: { problem: Problem; onRetry: () => void }) {
  return (
    <section className="card">
      <ScreenHeading>Can't check your session</ScreenHeading>
      <p>{problem.message}</p>
      <p className="muted">
        You may still be logged in: nothing has been lost. This page tries again by itself every little while.
      </p>
      <button type="button" onClick={onRetry}>
        Try again now
      </button>
    </section>
  );
}

function NotFound() {
  return (
    <section className="card">
      <ScreenHeading>Page not found</ScreenHeading>
      <p>
        There is nothing at this address. <Link to="/">Go to your list</Link>.
      </p>
    </section>
  );
}
