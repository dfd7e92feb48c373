import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { expect, describe as group, it } from "vitest";
import { BadRequestSchema, RetryInfoSchema } from "../gen/google/rpc/error_details_pb";
import { NetworkError, SessionEndedError } from "./api";
import { describe, formatWait, retryAfterSeconds } from "./errors";

const badRequest = (field: string, description: string, message = `${field}: ${description}`) =>
  new ConnectError(message, Code.InvalidArgument, undefined, [
    { desc: BadRequestSchema, value: { fieldViolations: [{ field, description }] } },
  ]);

const throttled = (seconds: number) =>
  new ConnectError(`too many attempts; retry in ${seconds} s`, Code.ResourceExhausted, undefined, [
    { desc: RetryInfoSchema, value: { retryDelay: create(DurationSchema, { seconds: BigInt(seconds) }) } },
  ]);

const noAnswer = (service: "auth" | "todo") =>
  new ConnectError(
    "Failed to fetch",
    Code.Unknown,
    undefined,
    undefined,
    new NetworkError(service, new TypeError("Failed to fetch")),
  );

group("field errors", () => {
  it("name the field the person sees, not the request's path", () => {
    const p = describe(badRequest("todo.title", "must be 1 to 200 characters after trimming"), "todo");
    expect(p.fields).toEqual({ title: "Title must be 1 to 200 characters (spaces at either end don't count)." });
    expect(p.message).not.toMatch(/todo\.title|Todo\./);
  });

  it("read from the message when there is no BadRequest detail", () => {
    const p = describe(new ConnectError("description: must be at most 2000 characters", Code.InvalidArgument), "todo");
    expect(p.fields.description).toBe("Details must be at most 2000 characters.");
  });

  it("say a wrong current password in words", () => {
    const p = describe(badRequest("current_password", "is incorrect"), "auth");
    expect(p.fields.current_password).toBe("Current password is not right.");
  });

  it("send a bad mailed link back to asking for a new one", () => {
    const p = describe(badRequest("token", "is invalid, used or expired"), "auth");
    expect(p.fields.token).toMatch(/expired or was already used\. Ask for a new one\./);
  });

  it("put a taken username on the username field, a taken email on the email field", () => {
    expect(describe(new ConnectError("username is already taken", Code.AlreadyExists), "auth").fields).toEqual({
      username: "That username is taken. Try another.",
    });
    const email = describe(new ConnectError("email: is already used by another account", Code.AlreadyExists), "auth");
    expect(Object.keys(email.fields)).toContain("email");
    expect(email.fields.username).toBeUndefined();
  });
});

group("service problems", () => {
  it("tell the todo service not answering from having no connection", () => {
    const one = describe(noAnswer("todo"), "todo", "other-answers");
    expect(one.message).toBe("The todo service is not answering. Try again in a moment.");
    expect(one.message).not.toMatch(/connection/i);
    expect(one.retryable).toBe(true);
    const both = describe(noAnswer("todo"), "todo", "neither-answers");
    expect(both.message).toMatch(/Check your connection/);
    expect(both.cause).not.toBe(one.cause);
    expect(describe(noAnswer("todo"), "todo", "offline").message).toMatch(/^You're offline/);
  });

  it("name the sign-in service when it is the one not answering", () => {
    expect(describe(noAnswer("auth"), "auth", "other-answers").message).toBe(
      "The sign-in service is not answering. Try again in a moment.",
    );
  });

  it("give one cause key per cause, whatever the call", () => {
    const a = describe(noAnswer("todo"), "todo", "other-answers");
    const b = describe(noAnswer("todo"), "todo", "other-answers");
    expect(a.cause).toBe(b.cause);
  });

  it("say UNAVAILABLE and DEADLINE_EXCEEDED per service, as retryable", () => {
    const u = describe(new ConnectError("cannot check token revocation; retry", Code.Unavailable), "todo");
    expect(u.message).toBe("The todo service is unavailable right now. Try again in a moment.");
    expect(u.retryable).toBe(true);
    expect(describe(new ConnectError("", Code.DeadlineExceeded), "auth").message).toMatch(
      /^The sign-in service took too long/,
    );
  });
});

group("lock-out", () => {
  it("reads the delay from RetryInfo and says it in a sentence that starts with a capital", () => {
    const p = describe(throttled(60), "auth");
    expect(p.retryAfterSeconds).toBe(60);
    expect(p.message).toBe("Too many attempts. Try again in 1 minute.");
    expect(retryAfterSeconds(throttled(4))).toBe(4);
  });

  it("formats waits", () => {
    expect(formatWait(1)).toBe("1 second");
    expect(formatWait(59.2)).toBe("1 minute");
    expect(formatWait(42)).toBe("42 seconds");
    expect(formatWait(125)).toBe("2 minutes 5 seconds");
    expect(formatWait(0)).toBe("0 seconds");
  });
});

group("other answers", () => {
  it("wrong credentials, ended session, cancelled, missing todo", () => {
    expect(describe(new ConnectError("invalid username or password", Code.Unauthenticated), "auth").message).toBe(
      "Wrong username or password.",
    );
    expect(describe(new SessionEndedError(), "todo").sessionEnded).toBe(true);
    expect(describe(new ConnectError("x", Code.Canceled), "todo").cancelled).toBe(true);
    expect(describe(new ConnectError("todo not found", Code.NotFound), "todo").message).toMatch(/no longer exists/);
  });

  it("say mail delivery being off in words", () => {
    const p = describe(new ConnectError("email delivery is not configured", Code.FailedPrecondition), "auth");
    expect(p.message).toBe("This server can't send email (email delivery is not set up).");
  });

  it("never show an internal message, and give the request id", () => {
    const err = new ConnectError("internal error", Code.Internal, { "x-request-id": "abc123" });
    const p = describe(err, "todo");
    expect(p.message).toBe("Something went wrong at the todo service. Try again. (Reference abc123)");
  });
});

group("a session that ended inside a call", () => {
  it("is recognised when connect wraps it", () => {
    const wrapped = new ConnectError(
      "Your session has ended.",
      Code.Unknown,
      undefined,
      undefined,
      new SessionEndedError(),
    );
    expect(describe(wrapped, "todo").sessionEnded).toBe(true);
  });
});
