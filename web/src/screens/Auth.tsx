// Log in and register. Field errors sit under their fields (aria-describedby,
// aria-invalid) and focus goes to the first field in error; a lock-out counts down
// from the server's RetryInfo with the button disabled until it passes.

import { type FormEvent, useEffect, useState } from "react";
import { useAnnounce } from "../app/announce";
import { useApp, useAuth } from "../app/context";
import { focusById } from "../app/focus";
import { probeReach } from "../app/notices";
import { Link, navigate, usePlace } from "../app/router";
import { Field, FormError, ScreenHeading, useSecondsLeft } from "../app/ui";
import type { Session } from "../lib/api";
import { describe, formatWait, type Problem } from "../lib/errors";
import { emailProblem, newPasswordProblem, usernameProblem } from "../lib/validate";

/** Describes an auth-service failure, probing the todo-service when there was no answer. */
export async function describeAuthFailure(session: Session, e: unknown): Promise<Problem> {
  const problem = describe(e, "auth");
  if (problem.cause === "no-answer:auth") return describe(e, "auth", await probeReach(session, "auth"));
  return problem;
}

function Notice({ text }: { text?: string }) {
  if (!text) return null;
  return (
    <p className="notice notice-info" id="auth-notice">
      {text}
    </p>
  );
}

/**
 * The message about the whole form: said aloud and focused when shown, and replaced while a
 * lock-out counts down (announcing its end).
 */
function useFormMessage(errorId: string) {
  const announce = useAnnounce();
  const [message, setMessage] = useState<string | null>(null);
  const [until, setUntil] = useState<number | null>(null);
  const left = useSecondsLeft(until);
  useEffect(() => {
    if (until !== null && left === 0) {
      setUntil(null);
      announce("You can try again now.");
    }
  }, [until, left, announce]);
  const locked = until !== null && left > 0;
  return {
    locked,
    shown: locked ? `Too many attempts. Try again in ${formatWait(left)}.` : message,
    clear() {
      setMessage(null);
    },
    show(problem: Problem) {
      if (problem.retryAfterSeconds !== undefined) setUntil(Date.now() + problem.retryAfterSeconds * 1000);
      setMessage(problem.message);
      announce(problem.message, { assertive: true });
      focusById(errorId);
    },
  };
}

export function Login() {
  const { session } = useApp();
  const { auth, signedIn } = useAuth();
  const place = usePlace();
  const params = new URLSearchParams(place.search);
  const next = params.get("next");
  const [username, setUsername] = useState(params.get("username") ?? "");
  const [password, setPassword] = useState("");
  const [fieldErrors, setFieldErrors] = useState<{ username?: string; password?: string }>({});
  const [busy, setBusy] = useState(false);
  const formMessage = useFormMessage("login-error");
  const notice = auth.kind === "out" ? auth.notice : undefined;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy || formMessage.locked) return;
    const errors = {
      username: username.trim() ? undefined : "Enter your username.",
      password: password ? undefined : "Enter your password.",
    };
    setFieldErrors(errors);
    formMessage.clear();
    if (errors.username || errors.password) {
      focusById(errors.username ? "login-username" : "login-password");
      return;
    }
    setBusy(true);
    try {
      await session.login(username.trim(), password);
    } catch (err) {
      setBusy(false);
      formMessage.show(await describeAuthFailure(session, err));
      return;
    }
    signedIn({ next: next ?? undefined });
  };

  const shownError = formMessage.shown;
  return (
    <section className="card narrow" aria-labelledby="main-heading">
      <ScreenHeading>Log in</ScreenHeading>
      <Notice text={notice} />
      <form id="login-form" noValidate onSubmit={submit} aria-describedby={shownError ? "login-error" : undefined}>
        <Field
          id="login-username"
          label="Username"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          value={username}
          error={fieldErrors.username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <Field
          id="login-password"
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          error={fieldErrors.password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <FormError id="login-error">{shownError}</FormError>
        <button type="submit" aria-disabled={formMessage.locked || busy || undefined}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
      <p>
        <Link to="/forgot-password">Forgot your password?</Link>
      </p>
      <p>
        No account yet? <Link to={`/register${next ? `?next=${encodeURIComponent(next)}` : ""}`}>Create one</Link>
      </p>
    </section>
  );
}

type RegisterField = "username" | "password" | "email";
const REGISTER_ORDER: RegisterField[] = ["username", "password", "email"];

export function Register() {
  const { session } = useApp();
  const { signedIn } = useAuth();
  const next = new URLSearchParams(usePlace().search).get("next");
  const [values, setValues] = useState({ username: "", password: "", email: "" });
  const [errors, setErrors] = useState<Partial<Record<RegisterField, string>>>({});
  const [busy, setBusy] = useState(false);
  const formMessage = useFormMessage("register-error");

  const set = (field: RegisterField) => (e: React.ChangeEvent<HTMLInputElement>) => {
    setValues((v) => ({ ...v, [field]: e.target.value }));
    if (errors[field]) setErrors((old) => ({ ...old, [field]: undefined }));
  };

  const showErrors = (found: Partial<Record<RegisterField, string>>) => {
    setErrors(found);
    const first = REGISTER_ORDER.find((f) => found[f]);
    if (first) focusById(`register-${first}`);
    return !!first;
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy || formMessage.locked) return;
    formMessage.clear();
    const username = values.username.trim();
    const email = values.email.trim();
    const found = {
      username: usernameProblem(username) ?? undefined,
      password: newPasswordProblem(values.password) ?? undefined,
      email: emailProblem(email) ?? undefined,
    };
    if (showErrors(found)) return;
    setBusy(true);
    try {
      await session.auth.register({ username, password: values.password, email });
    } catch (err) {
      setBusy(false);
      const problem = await describeAuthFailure(session, err);
      const fields: Partial<Record<RegisterField, string>> = {};
      for (const f of REGISTER_ORDER) if (problem.fields[f]) fields[f] = problem.fields[f];
      if (!showErrors(fields)) formMessage.show(problem);
      return;
    }
    try {
      await session.login(username, values.password);
    } catch {
      // The account exists; what is left is logging in.
      navigate(`/login?username=${encodeURIComponent(username)}`, { replace: true });
      return;
    }
    signedIn({
      next: next ?? undefined,
      notice: email
        ? `Welcome! We sent a link to ${email}: open it to confirm your address.`
        : "Welcome! Your account is ready.",
    });
  };

  return (
    <section className="card narrow" aria-labelledby="main-heading">
      <ScreenHeading>Create an account</ScreenHeading>
      <form id="register-form" noValidate onSubmit={submit}>
        <Field
          id="register-username"
          label="Username"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          hint="3 to 32 characters: letters, digits, and _ . or -"
          value={values.username}
          error={errors.username}
          onChange={set("username")}
        />
        <Field
          id="register-password"
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          hint="At least 8 characters. A few unrelated words work well."
          value={values.password}
          error={errors.password}
          onChange={set("password")}
        />
        <Field
          id="register-email"
          label="Email address (optional)"
          name="email"
          type="email"
          autoComplete="email"
          hint="Only for resetting a forgotten password. We'll send a link to confirm it."
          value={values.email}
          error={errors.email}
          onChange={set("email")}
        />
        <FormError id="register-error">{formMessage.shown}</FormError>
        <button type="submit" aria-disabled={formMessage.locked || busy || undefined}>
          {busy ? "Creating your account…" : "Create account"}
        </button>
      </form>
      <p>
        Already have an account? <Link to={`/login${next ? `?next=${encodeURIComponent(next)}` : ""}`}>Log in</Link>
      </p>
    </section>
  );
}
