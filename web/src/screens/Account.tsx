// The account page: your details and email (change it, resend the confirmation),
// your password, where you are logged in (this device marked, end any session),
// your security history, and deleting the account (password, then a clear
// confirmation).

import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useInfiniteQuery, useMutation, useQuery } from "@connectrpc/connect-query";
import { type FormEvent, type ReactNode, useState } from "react";
import { useAnnounce } from "../app/announce";
import { useApp, useAuth } from "../app/context";
import { clearAllDrafts } from "../app/drafts";
import { focusById } from "../app/focus";
import { useNotices } from "../app/notices";
import { useTodoList } from "../app/todos";
import { Field, FormError, ScreenHeading, useSecondsLeft } from "../app/ui";
import { AuthService, type Session as AuthSession } from "../gen/auth/v1/auth_pb";
import { formatWait } from "../lib/errors";
import { describeDevice, describeEvent, formatDateTime, isWarning } from "../lib/format";
import { emailProblem, newPasswordProblem } from "../lib/validate";
import { describeAuthFailure } from "./Auth";

const when = (t: Timestamp | undefined) => (t ? formatDateTime(timestampDate(t)) : "");

/**
 * A form's failure: field errors by field, or one message (with a lock-out countdown).
 * `fieldIds` maps each field to its input's id, in the order focus looks for the first in error.
 */
function useFormProblem<F extends string>(formErrorId: string, fieldIds: Record<F, string>) {
  const { session } = useApp();
  const [fields, setFields] = useState<Partial<Record<F, string>>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [lockedUntil, setLockedUntil] = useState<number | null>(null);
  const left = useSecondsLeft(lockedUntil);
  const locked = lockedUntil !== null && left > 0;
  const order = Object.keys(fieldIds) as F[];
  /** Shows the field errors and focuses the first; false when there are none. */
  const check = (found: Partial<Record<F, string>>) => {
    const first = order.find((f) => found[f]);
    if (!first) return false;
    setFields(found);
    focusById(fieldIds[first]);
    return true;
  };
  return {
    fields,
    message: locked ? `Too many attempts. Try again in ${formatWait(left)}.` : message,
    locked,
    reset() {
      setFields({});
      setMessage(null);
    },
    check,
    /** Describes a failed call and shows it; false when the session ended instead (nothing to show). */
    async fail(err: unknown): Promise<boolean> {
      const problem = await describeAuthFailure(session, err);
      if (problem.sessionEnded) return false;
      const found: Partial<Record<F, string>> = {};
      for (const f of order) if (problem.fields[f]) found[f] = problem.fields[f];
      if (check(found)) return true;
      setFields({});
      if (problem.retryAfterSeconds !== undefined) setLockedUntil(Date.now() + problem.retryAfterSeconds * 1000);
      setMessage(problem.message);
      focusById(formErrorId);
      return true;
    },
  };
}

/**
 * A card holding one of the account forms: its heading, the fields, the form's message,
 * the submit button ("Saving…" while pending) and, once done, a notice that can take focus.
 * Its ids all start with `name`: name-heading, name-form, name-error, name-done.
 */
function FormCard({
  name,
  heading,
  action,
  pending,
  problem,
  done,
  onSubmit,
  children,
}: {
  name: string;
  heading: string;
  action: string;
  pending: boolean;
  problem: { message: string | null; locked: boolean };
  done: ReactNode;
  onSubmit: (e: FormEvent) => void;
  children: ReactNode;
}) {
  return (
    <section className="card" aria-labelledby={`${name}-heading`}>
      <h2 id={`${name}-heading`}>{heading}</h2>
      <form noValidate onSubmit={onSubmit} id={`${name}-form`}>
        {children}
        <FormError id={`${name}-error`}>{problem.message}</FormError>
        <button type="submit" aria-disabled={pending || problem.locked || undefined}>
          {pending ? "Saving…" : action}
        </button>
      </form>
      {done && (
        <p id={`${name}-done`} tabIndex={-1} className="notice notice-success">
          {done}
        </p>
      )}
    </section>
  );
}

export function Account() {
  return (
    <section aria-labelledby="main-heading" className="account">
      <ScreenHeading>Your account</ScreenHeading>
      <Details />
      <ChangeEmail />
      <ChangePassword />
      <Sessions />
      <History />
      <DeleteAccount />
    </section>
  );
}

function Details() {
  const { session } = useApp();
  const me = useQuery(AuthService.method.getMe, {});
  const resend = useMutation(AuthService.method.sendVerificationEmail);
  const announce = useAnnounce();
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const user = me.data;
  const send = async () => {
    if (resend.isPending) return;
    setStatus(null);
    try {
      await resend.mutateAsync({});
      setStatus({ ok: true, text: `We sent a new link to ${user?.email}.` });
    } catch (e) {
      const problem = await describeAuthFailure(session, e);
      if (problem.sessionEnded) return;
      setStatus({ ok: false, text: problem.message });
    }
    focusById("resend-status");
  };
  void announce;
  return (
    <section className="card" aria-labelledby="details-heading">
      <h2 id="details-heading">Your details</h2>
      {user ? (
        <dl className="details">
          <dt>Username</dt>
          <dd data-testid="account-username">{user.username}</dd>
          <dt>Email address</dt>
          <dd data-testid="account-email">
            {user.email ? (
              <>
                {user.email}{" "}
                <span className={user.emailVerified ? "badge badge-ok" : "badge badge-warn"}>
                  {user.emailVerified ? "Confirmed" : "Not confirmed yet"}
                </span>
              </>
            ) : (
              "None"
            )}
          </dd>
          <dt>Member since</dt>
          <dd>{when(user.createTime)}</dd>
        </dl>
      ) : (
        <p className="muted">{me.isError ? "Your details could not be loaded." : "Loading…"}</p>
      )}
      {user?.email && !user.emailVerified && (
        <>
          <p>Open the link we emailed you to confirm your address. No email? Ask for another.</p>
          <button type="button" className="secondary" onClick={send} aria-disabled={resend.isPending || undefined}>
            {resend.isPending ? "Sending…" : "Send a new confirmation link"}
          </button>
        </>
      )}
      {status && (
        <p id="resend-status" tabIndex={-1} className={status.ok ? "notice notice-success" : "error"}>
          {status.text}
        </p>
      )}
    </section>
  );
}

function ChangeEmail() {
  const { queryClient } = useApp();
  const change = useMutation(AuthService.method.changeEmail);
  const announce = useAnnounce();
  const [password, setPassword] = useState("");
  const [email, setEmail] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const ids = { password: "email-password", new_email: "email-new" };
  const problem = useFormProblem("email-error", ids);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (change.isPending || problem.locked) return;
    problem.reset();
    setDone(null);
    const address = email.trim();
    const found: Partial<Record<keyof typeof ids, string>> = {};
    if (!password) found.password = "Enter your current password.";
    const bad = emailProblem(address, true);
    if (bad) found.new_email = bad;
    if (problem.check(found)) return;
    try {
      await change.mutateAsync({ password, newEmail: address });
    } catch (err) {
      await problem.fail(err);
      return;
    }
    setPassword("");
    setEmail("");
    setDone(`Your address is now ${address}. We sent a link to it: open it to confirm the address.`);
    announce("Email address changed.");
    void queryClient.invalidateQueries();
    focusById("email-done");
  };

  return (
    <FormCard
      name="email"
      heading="Change your email address"
      action="Change email address"
      pending={change.isPending}
      problem={problem}
      done={done}
      onSubmit={submit}
    >
      <Field
        id={ids.new_email}
        label="New email address"
        type="email"
        autoComplete="email"
        value={email}
        error={problem.fields.new_email}
        onChange={(e) => setEmail(e.target.value)}
      />
      <Field
        id={ids.password}
        label="Your password"
        type="password"
        autoComplete="current-password"
        hint="To make sure it's you."
        value={password}
        error={problem.fields.password}
        onChange={(e) => setPassword(e.target.value)}
      />
    </FormCard>
  );
}

function ChangePassword() {
  const { session, queryClient } = useApp();
  const { signedOut } = useAuth();
  const me = useQuery(AuthService.method.getMe, {});
  const change = useMutation(AuthService.method.changePassword);
  const announce = useAnnounce();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [done, setDone] = useState(false);
  const ids = { current_password: "password-current", new_password: "password-new" };
  const problem = useFormProblem("password-error", ids);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (change.isPending || problem.locked || !me.data) return;
    problem.reset();
    setDone(false);
    const found: Partial<Record<keyof typeof ids, string>> = {};
    if (!current) found.current_password = "Enter your current password.";
    const bad = newPasswordProblem(next);
    if (bad) found.new_password = bad.replace(/^Password/, "New password");
    else if (next === current) found.new_password = "New password must differ from the current one.";
    if (problem.check(found)) return;
    try {
      await change.mutateAsync({ currentPassword: current, newPassword: next });
    } catch (err) {
      await problem.fail(err);
      return;
    }
    // Changing the password ended every session, this one too: log in again with it.
    try {
      await session.login(me.data.username, next);
    } catch {
      signedOut("Your password is changed. Log in with the new one.");
      return;
    }
    setCurrent("");
    setNext("");
    setDone(true);
    announce("Password changed.");
    void queryClient.invalidateQueries();
    focusById("password-done");
  };

  return (
    <FormCard
      name="password"
      heading="Change your password"
      action="Change password"
      pending={change.isPending}
      problem={problem}
      done={done && "Your password is changed. Every other device has been logged out."}
      onSubmit={submit}
    >
      <input type="text" hidden readOnly autoComplete="username" value={me.data?.username ?? ""} />
      <Field
        id={ids.current_password}
        label="Current password"
        type="password"
        autoComplete="current-password"
        value={current}
        error={problem.fields.current_password}
        onChange={(e) => setCurrent(e.target.value)}
      />
      <Field
        id={ids.new_password}
        label="New password"
        type="password"
        autoComplete="new-password"
        hint="At least 8 characters. Every other device will be logged out."
        value={next}
        error={problem.fields.new_password}
        onChange={(e) => setNext(e.target.value)}
      />
    </FormCard>
  );
}

function Sessions() {
  const { session } = useApp();
  const { signedOut } = useAuth();
  const notices = useNotices();
  const announce = useAnnounce();
  const list = useQuery(AuthService.method.listSessions, {});
  const revoke = useMutation(AuthService.method.revokeSession);
  const [ending, setEnding] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const end = async (s: AuthSession) => {
    if (ending) return;
    setError(null);
    if (s.current) {
      try {
        await session.logout();
      } catch (e) {
        await notices.report(e, "auth", { unsaved: "Logging out" });
        return;
      }
      clearAllDrafts();
      signedOut("You have logged out.");
      return;
    }
    setEnding(s.id);
    let failed: string | null = null;
    try {
      await revoke.mutateAsync({ sessionId: s.id });
      announce(`Ended the session of ${describeDevice(s.userAgent)}.`);
    } catch (e) {
      const p = await describeAuthFailure(session, e);
      if (p.sessionEnded) return;
      failed = p.message;
      setError(failed);
    } finally {
      setEnding(null);
    }
    await list.refetch();
    focusById(failed ? "sessions-error" : "sessions-heading");
  };

  const sessions = list.data?.sessions ?? [];
  return (
    <section className="card" aria-labelledby="sessions-heading">
      <h2 id="sessions-heading" tabIndex={-1}>
        Where you're logged in
      </h2>
      {list.isPending && <p className="muted">Loading…</p>}
      {list.isError && <p className="error">Your sessions could not be loaded.</p>}
      {error && (
        <p id="sessions-error" className="error" tabIndex={-1}>
          {error}
        </p>
      )}
      <ul className="sessions" aria-labelledby="sessions-heading">
        {sessions.map((s) => {
          const device = describeDevice(s.userAgent);
          return (
            <li key={s.id} className={s.current ? "session current" : "session"} data-testid="session">
              <p className="session-device">
                <strong>{device}</strong> {s.current && <span className="badge badge-ok">This device</span>}
              </p>
              <p className="meta">
                {s.clientAddress && <>From {s.clientAddress}. </>}
                Logged in {when(s.createTime)}. Last active {when(s.lastRefreshTime)}.
              </p>
              <button
                type="button"
                className="secondary danger"
                aria-disabled={ending === s.id || undefined}
                onClick={() => void end(s)}
              >
                {s.current ? "Log out on this device" : ending === s.id ? "Ending…" : "End session"}
                {!s.current && (
                  <span className="visually-hidden">
                    {" "}
                    of {device}, logged in {when(s.createTime)}
                  </span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function History() {
  const events = useInfiniteQuery(
    AuthService.method.listSecurityEvents,
    { pageSize: 10, pageToken: "" },
    { pageParamKey: "pageToken", getNextPageParam: (r) => r.nextPageToken || undefined },
  );
  const all = events.data?.pages.flatMap((p) => p.events) ?? [];
  const more = async () => {
    const before = all.length;
    const res = await events.fetchNextPage();
    const after = res.data?.pages.flatMap((p) => p.events) ?? [];
    if (after.length > before) focusById(`event-${after[before].id}`);
  };
  return (
    <section className="card" aria-labelledby="history-heading">
      <h2 id="history-heading">Security history</h2>
      <p className="muted">What happened to your account, newest first.</p>
      {events.isPending && <p className="muted">Loading…</p>}
      {events.isError && <p className="error">Your history could not be loaded.</p>}
      <ol className="events" aria-labelledby="history-heading">
        {all.map((ev) => (
          <li key={ev.id} id={`event-${ev.id}`} tabIndex={-1} className={isWarning(ev.kind) ? "event warn" : "event"}>
            <p>
              <strong>{describeEvent(ev.kind)}</strong>
            </p>
            <p className="meta">
              {when(ev.time)}
              {ev.userAgent && <> · {describeDevice(ev.userAgent)}</>}
              {ev.clientAddress && <> · {ev.clientAddress}</>}
            </p>
          </li>
        ))}
      </ol>
      {events.hasNextPage && (
        <button
          type="button"
          className="secondary"
          onClick={() => void more()}
          aria-disabled={events.isFetchingNextPage || undefined}
        >
          {events.isFetchingNextPage ? "Loading…" : "Show older events"}
        </button>
      )}
    </section>
  );
}

function DeleteAccount() {
  const { signedOut } = useAuth();
  const me = useQuery(AuthService.method.getMe, {});
  const todos = useTodoList();
  const remove = useMutation(AuthService.method.deleteAccount);
  const [step, setStep] = useState<"password" | "confirm">("password");
  const [password, setPassword] = useState("");
  const problem = useFormProblem("delete-error", { password: "delete-password" });

  const toConfirm = (e: FormEvent) => {
    e.preventDefault();
    problem.reset();
    if (problem.check({ password: password ? undefined : "Enter your password." })) return;
    setStep("confirm");
    focusById("delete-confirm-text");
  };
  const back = () => {
    setStep("password");
    focusById("delete-password");
  };
  const confirm = async () => {
    if (remove.isPending || problem.locked) return;
    try {
      await remove.mutateAsync({ password });
    } catch (err) {
      if (await problem.fail(err)) setStep("password");
      return;
    }
    clearAllDrafts();
    signedOut("Your account and everything in it has been deleted.");
  };
  const count = todos.data?.length;
  return (
    <section className="card danger-zone" aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete your account</h2>
      {step === "password" ? (
        <form noValidate onSubmit={toConfirm} id="delete-form">
          <p>This deletes your account, your todos, your sessions and your history for good.</p>
          <input type="text" hidden readOnly autoComplete="username" value={me.data?.username ?? ""} />
          <Field
            id="delete-password"
            label="Your password"
            type="password"
            autoComplete="current-password"
            value={password}
            error={problem.fields.password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <FormError id="delete-error">{problem.message}</FormError>
          <button type="submit" className="secondary danger" aria-disabled={problem.locked || undefined}>
            Continue to delete…
          </button>
        </form>
      ) : (
        <div className="confirm-box">
          <p id="delete-confirm-text" tabIndex={-1}>
            <strong>
              Delete the account “{me.data?.username}”
              {count !== undefined && ` and its ${count} ${count === 1 ? "todo" : "todos"}`}?
            </strong>{" "}
            You will be logged out everywhere. This cannot be undone, and nobody can bring it back.
          </p>
          <div className="actions">
            <button
              type="button"
              className="danger-solid"
              onClick={() => void confirm()}
              aria-disabled={remove.isPending || undefined}
            >
              {remove.isPending ? "Deleting…" : "Delete my account for good"}
            </button>
            <button type="button" className="secondary" onClick={back}>
              Keep my account
            </button>
          </div>
        </div>
      )}
    </section>
  );
}
