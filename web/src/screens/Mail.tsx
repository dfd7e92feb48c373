// The screens mailed links lead to (verify email, reset password) and "forgot
// password". The token is read from the address once and then removed from it, so
// it stays out of the history and of any Referer.

import { type FormEvent, useEffect, useState } from "react";
import { useAnnounce } from "../app/announce";
import { useApp, useAuth } from "../app/context";
import { focusById } from "../app/focus";
import { Link } from "../app/router";
import { Field, FormError, ScreenHeading } from "../app/ui";
import type { Problem } from "../lib/errors";
import { emailProblem, newPasswordProblem } from "../lib/validate";
import { describeAuthFailure } from "./Auth";

const taken = new Map<string, string>();

/** The `token` in the address, removed from it (and remembered for this path). */
function takeToken(): string {
  const path = location.pathname;
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token) {
    taken.set(path, token);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(history.state, "", `${path}${rest ? `?${rest}` : ""}${location.hash}`);
  }
  return taken.get(path) ?? "";
}

/** One VerifyEmail call per token however often the screen mounts (the token is single use). */
const verifications = new Map<string, Promise<Problem | null>>();

export function VerifyEmail() {
  const { session, queryClient } = useApp();
  const { auth } = useAuth();
  const [token] = useState(takeToken);
  const [result, setResult] = useState<Problem | null | "pending">(token ? "pending" : null);
  const announce = useAnnounce();

  useEffect(() => {
    if (!token) return;
    let call = verifications.get(token);
    if (!call) {
      call = session.auth.verifyEmail({ token }).then(
        () => null,
        (e) => describeAuthFailure(session, e),
      );
      verifications.set(token, call);
    }
    let live = true;
    void call.then((problem) => {
      if (!live) return;
      setResult(problem);
      if (!problem) void queryClient.invalidateQueries();
      announce(problem ? problem.message : "Your email address is confirmed.");
      focusById("main-heading");
    });
    return () => {
      live = false;
    };
  }, [token, session, queryClient, announce]);

  const signedIn = auth.kind === "in";
  const onward = signedIn ? <Link to="/">Go to your list</Link> : <Link to="/login">Log in</Link>;
  if (!token) {
    return (
      <section className="card narrow">
        <ScreenHeading>Confirm your email address</ScreenHeading>
        <p>This address has no confirmation code. Open the link from the email again, exactly as it was sent.</p>
        <p>{onward}</p>
      </section>
    );
  }
  if (result === "pending") {
    return (
      <section className="card narrow">
        <ScreenHeading>Confirming your email address…</ScreenHeading>
      </section>
    );
  }
  if (result === null) {
    return (
      <section className="card narrow">
        <ScreenHeading>Email address confirmed</ScreenHeading>
        <p className="notice notice-success">Your email address is confirmed. You can use it to reset your password.</p>
        <p>{onward}</p>
      </section>
    );
  }
  return (
    <section className="card narrow">
      <ScreenHeading>We couldn't confirm your email address</ScreenHeading>
      <p className="error">{result.message}</p>
      <p>
        {signedIn ? (
          <>
            Ask for a new link on <Link to="/account">your account page</Link>.
          </>
        ) : (
          <>
            <Link to="/login?next=%2Faccount">Log in</Link> to ask for a new link on your account page.
          </>
        )}
      </p>
    </section>
  );
}

export function ResetPassword() {
  const { session } = useApp();
  const { auth, signedOut } = useAuth();
  const announce = useAnnounce();
  const [token] = useState(takeToken);
  const [password, setPassword] = useState("");
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [formError, setFormError] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setFormError(null);
    const bad = newPasswordProblem(password);
    setFieldError(bad);
    if (bad) {
      focusById("reset-password");
      return;
    }
    setBusy(true);
    try {
      await session.auth.resetPassword({ token, newPassword: password });
    } catch (err) {
      setBusy(false);
      const problem = await describeAuthFailure(session, err);
      if (problem.fields.new_password) {
        setFieldError(problem.fields.new_password);
        focusById("reset-password");
      } else {
        setFormError(problem);
        announce(problem.message, { assertive: true });
        focusById("reset-error");
      }
      return;
    }
    setBusy(false);
    setDone(true);
    // Every session ended, this browser's too.
    if (auth.kind === "in") signedOut("Your password was changed. Log in with the new one.", { stay: true });
    announce("Your password is changed.");
    focusById("main-heading");
  };

  if (done) {
    return (
      <section className="card narrow">
        <ScreenHeading>Password changed</ScreenHeading>
        <p className="notice notice-success">
          Your password is changed. Every device that was logged in to your account has been logged out.
        </p>
        <p>
          <Link to="/login">Log in with your new password</Link>
        </p>
      </section>
    );
  }
  if (!token) {
    return (
      <section className="card narrow">
        <ScreenHeading>Set a new password</ScreenHeading>
        <p>This address has no reset code. Open the link from the email again, or ask for a new one.</p>
        <p>
          <Link to="/forgot-password">Ask for a new link</Link>
        </p>
      </section>
    );
  }
  const badLink = formError?.fields.token !== undefined;
  return (
    <section className="card narrow">
      <ScreenHeading>Set a new password</ScreenHeading>
      <form id="reset-form" noValidate onSubmit={submit}>
        <Field
          id="reset-password"
          label="New password"
          type="password"
          autoComplete="new-password"
          hint="At least 8 characters. A few unrelated words work well."
          value={password}
          error={fieldError}
          onChange={(e) => setPassword(e.target.value)}
        />
        <FormError id="reset-error">{formError?.message}</FormError>
        {badLink && (
          <p>
            <Link to="/forgot-password">Ask for a new link</Link>
          </p>
        )}
        <button type="submit" aria-disabled={busy || undefined}>
          {busy ? "Saving…" : "Set new password"}
        </button>
      </form>
    </section>
  );
}

export function ForgotPassword() {
  const { session } = useApp();
  const announce = useAnnounce();
  const [email, setEmail] = useState("");
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [sentTo, setSentTo] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setFormError(null);
    const address = email.trim();
    const bad = emailProblem(address, true);
    setFieldError(bad);
    if (bad) {
      focusById("forgot-email");
      return;
    }
    setBusy(true);
    try {
      await session.auth.requestPasswordReset({ email: address });
    } catch (err) {
      setBusy(false);
      const problem = await describeAuthFailure(session, err);
      if (problem.fields.email) {
        setFieldError(problem.fields.email);
        focusById("forgot-email");
      } else {
        setFormError(problem.message);
        announce(problem.message, { assertive: true });
        focusById("forgot-error");
      }
      return;
    }
    setBusy(false);
    setSentTo(address);
    announce("Check your email.");
    focusById("main-heading");
  };

  if (sentTo) {
    return (
      <section className="card narrow">
        <ScreenHeading>Check your email</ScreenHeading>
        <p className="notice notice-success">
          If an account uses {sentTo}, we've sent it a link to set a new password. The link works once, for a short
          time.
        </p>
        <p>
          <Link to="/login">Back to log in</Link>
        </p>
      </section>
    );
  }
  return (
    <section className="card narrow">
      <ScreenHeading>Forgot your password?</ScreenHeading>
      <p>Enter the email address of your account, and we'll send you a link to set a new password.</p>
      <form id="forgot-form" noValidate onSubmit={submit}>
        <Field
          id="forgot-email"
          label="Email address"
          type="email"
          autoComplete="email"
          value={email}
          error={fieldError}
          onChange={(e) => setEmail(e.target.value)}
        />
        <FormError id="forgot-error">{formError}</FormError>
        <button type="submit" aria-disabled={busy || undefined}>
          {busy ? "Sending…" : "Send reset link"}
        </button>
      </form>
      <p>
        <Link to="/login">Back to log in</Link>
      </p>
    </section>
  );
}
