// Words for people, from anything a call can raise: one message per cause, in plain
// language, with what to do next; field errors for the field they belong to; the
// lock-out delay from the server's google.rpc.RetryInfo.

import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, RetryInfoSchema } from "../gen/google/rpc/error_details_pb";
import { isSessionEnded, noAnswerFrom, type ServiceName } from "./api";

/** What is known about reaching the services when a call got no answer. */
export type Reach = "offline" | "other-answers" | "neither-answers" | "unknown";

export interface Problem {
  /** One key per cause, so the same cause is shown once however often it happens. */
  cause: string;
  /** The message for people. */
  message: string;
  /** Messages for form fields, by the field's name in the request (last path segment). */
  fields: Record<string, string>;
  /** Seconds until trying again can work (from RetryInfo), when the server said. */
  retryAfterSeconds?: number;
  /** Whether trying the same thing again may work. */
  retryable: boolean;
  /** The session is over; the page returns to the login screen (no message needed). */
  sessionEnded?: boolean;
  /** The call was cancelled (the screen went away): show nothing. */
  cancelled?: boolean;
}

const SERVICE_WORDS: Record<ServiceName, string> = {
  auth: "The sign-in service",
  todo: "The todo service",
};

const FIELD_LABELS: Record<string, string> = {
  title: "Title",
  description: "Details",
  username: "Username",
  password: "Password",
  email: "Email address",
  current_password: "Current password",
  new_password: "New password",
  new_email: "New email address",
  session_id: "Session",
};

/** Reasons the services give, reworded where their words are for programmers. */
function plainReason(field: string, reason: string): string {
  if (field === "token") return "This link has expired or was already used. Ask for a new one.";
  if (reason === "is incorrect") return `${FIELD_LABELS[field] ?? "This"} is not right.`;
  const label = FIELD_LABELS[field] ?? capitalise(field.replaceAll("_", " "));
  const words = reason
    .replace(/ after trimming$/, " (spaces at either end don't count)")
    .replace(/^is required$/, "is needed");
  return `${label} ${words}${/[.!?]$/.test(words) ? "" : "."}`;
}

export function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function sentence(s: string): string {
  const t = capitalise(s.trim());
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/** Seconds from a RetryInfo detail, rounded up; undefined when there is none. */
export function retryAfterSeconds(err: ConnectError): number | undefined {
  const [info] = err.findDetails(RetryInfoSchema);
  const delay = info?.retryDelay;
  if (!delay) return undefined;
  return Math.max(1, Math.ceil(Number(delay.seconds) + delay.nanos / 1e9));
}

/** "59 seconds", "1 minute", "2 minutes 5 seconds". */
export function formatWait(totalSeconds: number): string {
  const s = Math.max(0, Math.ceil(totalSeconds));
  const m = Math.floor(s / 60);
  const r = s % 60;
  const part = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (m === 0) return part(r, "second");
  return r === 0 ? part(m, "minute") : `${part(m, "minute")} ${part(r, "second")}`;
}

/**
 * Describes `e`, raised by a call to `service`. `reach` says, for a call that got no
 * answer, whether the other service answers (the caller probes), so "the todo
 * service is not answering" is not mistaken for "check your connection".
 */
export function describe(e: unknown, service: ServiceName, reach: Reach = "unknown"): Problem {
  const base = { fields: {}, retryable: false };
  if (isSessionEnded(e)) {
    return {
      ...base,
      cause: "session-ended",
      message: "Your session has ended. Log in again to carry on.",
      sessionEnded: true,
    };
  }
  const silent = noAnswerFrom(e);
  if (silent) {
    if (reach === "offline") {
      return {
        ...base,
        cause: "offline",
        retryable: true,
        message: "You're offline. Nothing can be loaded or saved until the connection is back.",
      };
    }
    if (reach === "neither-answers") {
      return {
        ...base,
        cause: "no-connection",
        retryable: true,
        message: "Neither service is answering. Check your connection, then try again.",
      };
    }
    return {
      ...base,
      cause: `no-answer:${silent}`,
      retryable: true,
      message: `${SERVICE_WORDS[silent]} is not answering. Try again in a moment.`,
    };
  }
  const err = ConnectError.from(e);
  const who = SERVICE_WORDS[service];
  const raw = err.rawMessage;
  switch (err.code) {
    case Code.Canceled:
      return { ...base, cause: "cancelled", message: "", cancelled: true };
    case Code.InvalidArgument: {
      const fields: Record<string, string> = {};
      for (const bad of err.findDetails(BadRequestSchema)) {
        for (const v of bad.fieldViolations) {
          const name = v.field.split(".").pop() ?? v.field;
          fields[name] ??= plainReason(name, v.description);
        }
      }
      if (Object.keys(fields).length === 0) {
        // No detail: the message is "field: reason".
        const m = raw.match(/^([\w.]+): (.*)$/);
        if (m) {
          const name = m[1].split(".").pop() ?? m[1];
          fields[name] = plainReason(name, m[2]);
        }
      }
      const first = Object.values(fields)[0];
      return { ...base, cause: "invalid", fields, message: first ?? sentence(raw || "That was not accepted") };
    }
    case Code.AlreadyExists:
      if (/^email/.test(raw)) {
        const message = "Another account already uses this email address.";
        return { ...base, cause: "exists:email", fields: { email: message, new_email: message }, message };
      }
      return {
        ...base,
        cause: "exists:username",
        fields: { username: "That username is taken. Try another." },
        message: "That username is taken. Try another.",
      };
    case Code.Unauthenticated:
      if (/invalid username or password/.test(raw)) {
        return { ...base, cause: "credentials", message: "Wrong username or password." };
      }
      return {
        ...base,
        cause: "session-ended",
        message: "Your session has ended. Log in again to carry on.",
        sessionEnded: true,
      };
    case Code.ResourceExhausted: {
      const after = retryAfterSeconds(err);
      if (after !== undefined) {
        const what = service === "todo" ? "You're adding todos faster than the limit." : "Too many attempts.";
        return {
          ...base,
          cause: "throttled",
          retryable: true,
          retryAfterSeconds: after,
          message: `${what} Try again in ${formatWait(after)}.`,
        };
      }
      if (/busy|in flight|queue/.test(raw)) {
        return {
          ...base,
          cause: `busy:${service}`,
          retryable: true,
          message: `${who} is busy. Try again in a moment.`,
        };
      }
      return { ...base, cause: "limit", message: sentence(raw || "A limit was reached") };
    }
    case Code.Unavailable:
      return {
        ...base,
        cause: `unavailable:${service}`,
        retryable: true,
        message: `${who} is unavailable right now. Try again in a moment.`,
      };
    case Code.DeadlineExceeded:
      return {
        ...base,
        cause: `slow:${service}`,
        retryable: true,
        message: `${who} took too long to answer. Try again.`,
      };
    case Code.NotFound:
      if (service === "todo") {
        return {
          ...base,
          cause: "not-found",
          message: "This todo no longer exists. It may have been deleted elsewhere.",
        };
      }
      return { ...base, cause: "not-found", message: "That session has already ended." };
    case Code.FailedPrecondition:
      if (/not configured/.test(raw)) {
        return { ...base, cause: "no-mail", message: "This server can't send email (email delivery is not set up)." };
      }
      if (/verified/.test(raw))
        return { ...base, cause: "verified", message: "Your email address is already confirmed." };
      if (/no (email )?address/.test(raw))
        return { ...base, cause: "no-email", message: "Add an email address first." };
      return { ...base, cause: "precondition", message: sentence(raw) };
    case Code.Internal:
    case Code.Unknown:
    case Code.DataLoss: {
      const ref = err.metadata.get("x-request-id");
      return {
        ...base,
        cause: `internal:${service}`,
        retryable: true,
        message: `Something went wrong at ${who.toLowerCase().replace(/^the /, "the ")}. Try again.${ref ? ` (Reference ${ref})` : ""}`,
      };
    }
    default:
      return { ...base, cause: `code:${err.code}`, message: sentence(raw || `The request failed (${Code[err.code]})`) };
  }
}
