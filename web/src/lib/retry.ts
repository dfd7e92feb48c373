// When to try a failed call again by itself, and how long to wait: exponential
// back-off with jitter, or the server's own RetryInfo delay when it gave one.

import { Code, ConnectError } from "@connectrpc/connect";
import { isNoAnswer, isSessionEnded } from "./api";
import { retryAfterSeconds } from "./errors";

/** Failures that may pass by themselves: no answer, unavailable, too slow, busy. */
export function isTransient(e: unknown): boolean {
  if (isSessionEnded(e)) return false;
  if (isNoAnswer(e)) return true;
  const err = ConnectError.from(e);
  switch (err.code) {
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return true;
    case Code.ResourceExhausted:
      // A lock-out or rate limit waits for the person, shown as a countdown; only
      // "busy" (no RetryInfo, load shedding) is worth retrying quietly.
      return retryAfterSeconds(err) === undefined && /busy|in flight|queue/.test(err.rawMessage);
    default:
      return false;
  }
}

/** TanStack Query's `retry`: up to `max` retries, transient failures only. */
export function shouldRetry(max: number): (failureCount: number, e: unknown) => boolean {
  return (failureCount, e) => failureCount < max && isTransient(e);
}

/**
 * TanStack Query's `retryDelay`: base · 2^attempt, at most 30 s, less up to a
 * quarter at random so that many tabs do not retry in step.
 */
export function backoff(baseMs: number, random: () => number = Math.random): (attempt: number, e: unknown) => number {
  return (attempt) => {
    const full = Math.min(30_000, baseMs * 2 ** attempt);
    return Math.round(full * (1 - 0.25 * random()));
  };
}
