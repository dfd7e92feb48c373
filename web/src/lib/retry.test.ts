import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { RetryInfoSchema } from "../gen/google/rpc/error_details_pb";
import { NetworkError, SessionEndedError } from "./api";
import { backoff, isTransient, shouldRetry } from "./retry";

const wrapped = (cause: Error) => new ConnectError(cause.message, Code.Unknown, undefined, undefined, cause);

describe("which failures are retried", () => {
  it("retries no answer, UNAVAILABLE, DEADLINE_EXCEEDED and busy", () => {
    expect(isTransient(wrapped(new NetworkError("todo", new TypeError("Failed to fetch"))))).toBe(true);
    expect(isTransient(new ConnectError("db down", Code.Unavailable))).toBe(true);
    expect(isTransient(new ConnectError("", Code.DeadlineExceeded))).toBe(true);
    expect(isTransient(new ConnectError("server busy, retry later", Code.ResourceExhausted))).toBe(true);
  });

  it("does not retry what waiting will not fix, or a lock-out the person waits out", () => {
    for (const code of [Code.InvalidArgument, Code.NotFound, Code.AlreadyExists, Code.Unauthenticated, Code.Internal]) {
      expect(isTransient(new ConnectError("x", code)), Code[code]).toBe(false);
    }
    expect(isTransient(new SessionEndedError())).toBe(false);
    const lockout = new ConnectError("too many attempts", Code.ResourceExhausted, undefined, [
      { desc: RetryInfoSchema, value: { retryDelay: create(DurationSchema, { seconds: 60n }) } },
    ]);
    expect(isTransient(lockout)).toBe(false);
  });

  it("stops after the maximum", () => {
    const retry = shouldRetry(3);
    const e = new ConnectError("", Code.Unavailable);
    expect([0, 1, 2, 3].map((n) => retry(n, e))).toEqual([true, true, true, false]);
  });
});

describe("back-off", () => {
  it("doubles from the base, with at most a quarter of jitter, capped at 30 s", () => {
    const none = backoff(1000, () => 0);
    const most = backoff(1000, () => 1);
    expect([0, 1, 2, 3].map((a) => none(a, null))).toEqual([1000, 2000, 4000, 8000]);
    expect(most(0, null)).toBe(750);
    expect(none(10, null)).toBe(30_000);
  });
});
