// The browser session against the real pair (all-in-one): the refresh cookie and
// the in-memory access token, reloads, tabs, expiry, a session ended elsewhere
// (with the typed text kept), and an origin the services do not allow.

import assert from "node:assert/strict";
import { test } from "node:test";
import { decode, parseFrames } from "./grpcweb.mjs";
import { sharedStack } from "./harness.mjs";
import {
  addTodo,
  announcements,
  apiCreateTodo,
  apiLogoutAll,
  apiUser,
  assertFocus,
  assertNoProblems,
  atScreen,
  eventually,
  item,
  logIn,
  openPage,
  register,
  scriptErrors,
  signedInAs,
  titles,
  uniqueName,
} from "./helpers.mjs";

// Short access tokens, so the expiry tests need not wait long. The verifier allows
// 10 s of clock leeway: a token is refused about TTL + 10 s after it was issued.
const TTL_SECONDS = 5;
const REFUSED_AFTER_MS = (TTL_SECONDS + 10 + 2) * 1000;

const shared = sharedStack({ accessTokenTtl: `${TTL_SECONDS}s`, name: "session" });

const isCall = (method) => (res) => res.url().endsWith(`/auth.v1.AuthService/${method}`);

async function tokenPair(response) {
  const { message } = parseFrames(await response.body());
  const fields = decode(message);
  return { accessToken: fields.get(1)?.[0]?.toString() ?? "", refreshToken: fields.get(4)?.[0]?.toString() ?? "" };
}

test("the session: cookie and memory only, log out, wrong password, log in again", async () => {
  const { context, page, calls, consoleErrors } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    // Nobody is signed in: the start-up Refresh finds no cookie, the login screen shows.
    await atScreen(page, "Log in");
    assert.equal(await page.getByTestId("who").count(), 0);

    const username = uniqueName("alice");
    const loginResponse = page.waitForResponse(isCall("Login"));
    await register(page, username);
    // After logging in, focus is on the list screen's heading, not on <body>.
    await assertFocus(page, "main-heading", "after registering");

    const pair = await tokenPair(await loginResponse);
    assert.match(pair.accessToken, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, "Login returned an access token");
    assert.equal(pair.refreshToken, "", "Login over gRPC-Web returns no refresh token in the body");
    const cookies = await context.cookies(`${shared.stack.authUrl}/auth.v1.AuthService/Refresh`);
    const cookie = cookies.find((c) => c.name === "__Secure-refresh_token");
    assert.ok(cookie, `the __Secure-refresh_token cookie is stored (cookies: ${JSON.stringify(cookies)})`);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, "Strict");
    assert.equal(cookie.path, "/auth.v1.AuthService/");
    await addTodo(page, "Something to keep");
    const stored = await page.evaluate(() => ({
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
      cookie: document.cookie,
    }));
    for (const [where, text] of Object.entries(stored)) {
      assert.ok(!text.includes(pair.accessToken), `access token not in ${where}`);
      assert.ok(!text.includes(cookie.value), `refresh token not in ${where}`);
    }
    assert.equal(stored.local, "{}", "nothing in localStorage");

    // Log out: back to the login screen, the cookie is gone, a reload stays logged out.
    await page.getByRole("button", { name: "Log out" }).click();
    await atScreen(page, "Log in");
    assert.equal(await page.locator("#auth-notice").textContent(), "You have logged out.");
    await assertFocus(page, "main-heading", "after logging out");
    const left = (await context.cookies(`${shared.stack.authUrl}/auth.v1.AuthService/Refresh`)).filter(
      (c) => c.name === "__Secure-refresh_token" && c.value !== "",
    );
    assert.deepEqual(left, [], "Logout cleared the refresh cookie");
    await page.reload();
    await atScreen(page, "Log in");

    // A wrong password is said plainly, with focus on the message; the right one
    // brings the todos back.
    await logIn(page, username, "not the password");
    await eventually(async () =>
      assert.equal(await page.locator("#login-error").textContent(), "Wrong username or password."),
    );
    await assertFocus(page, "login-error", "after a wrong password");
    await logIn(page, username);
    await signedInAs(page, username);
    assert.deepEqual(await titles(page), ["Something to keep"]);

    assert.deepEqual(
      calls.filter((c) => c.failed),
      [],
      "no call failed at the network level",
    );
    assert.deepEqual(scriptErrors(consoleErrors), [], "no script errors");
  } finally {
    await context.close();
  }
});

test("two users in two browser contexts do not see each other's todos", async () => {
  const bob = await openPage(shared.browser, shared.stack.pageUrl);
  const carol = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const bobName = uniqueName("bob");
    const carolName = uniqueName("carol");
    await register(bob.page, bobName);
    await register(carol.page, carolName);
    await addTodo(bob.page, "Bob's secret plan");
    await addTodo(carol.page, "Carol's shopping");
    await addTodo(bob.page, "Bob's second");
    for (const { page } of [bob, carol]) await page.reload();
    await signedInAs(bob.page, bobName);
    await signedInAs(carol.page, carolName);
    assert.deepEqual(await titles(bob.page), ["Bob's second", "Bob's secret plan"]);
    assert.deepEqual(await titles(carol.page), ["Carol's shopping"]);
  } finally {
    await bob.context.close();
    await carol.context.close();
  }
});

test("a reload keeps the session through the cookie; a new context has none", async () => {
  const { context, page, calls } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("dave");
    await register(page, username);
    await addTodo(page, "Survives a reload");
    await page.waitForLoadState("networkidle");

    calls.length = 0;
    const refreshed = page.waitForResponse(isCall("Refresh"));
    await page.reload();
    const pair = await tokenPair(await refreshed);
    assert.match(pair.accessToken, /^eyJ/, "Refresh from the cookie gave a new access token");
    assert.equal(pair.refreshToken, "", "Refresh over gRPC-Web returns no refresh token in the body");
    await signedInAs(page, username);
    assert.deepEqual(await titles(page), ["Survives a reload"]);
    const seen = calls.map((c) => `${c.method}:${c.grpc}`);
    assert.equal(seen[0], "Refresh:0", `start-up refreshes first: ${seen}`);
    assert.ok(seen.includes("GetMe:0") && seen.includes("ListTodos:0"), `${seen}`);
    assert.ok(
      calls.every((c) => c.grpc === 0),
      `every call succeeded: ${seen}`,
    );

    for (let i = 0; i < 2; i++) {
      await page.reload();
      await signedInAs(page, username);
    }

    const other = await openPage(shared.browser, shared.stack.pageUrl);
    try {
      await atScreen(other.page, "Log in");
    } finally {
      await other.context.close();
    }
  } finally {
    await context.close();
  }
});

test("tabs of one browser share the session: simultaneous refreshes, log out in one tab", async () => {
  const first = await openPage(shared.browser, shared.stack.pageUrl);
  const { context } = first;
  try {
    const username = uniqueName("tabs");
    await register(first.page, username);
    await addTodo(first.page, "Shared by the tabs");

    // Two more tabs open at once: each refreshes from the one cookie at start-up.
    // Refresh rotates the cookie and a reused token ends the session, so the tabs
    // must take turns (a Web Lock); both end up signed in, and so does a reload.
    const [second, third] = await Promise.all([context.newPage(), context.newPage()]);
    const refreshes = [];
    for (const p of [second, third]) {
      p.on("response", (r) => isCall("Refresh")(r) && refreshes.push(r.headerValue("grpc-status")));
    }
    await Promise.all([second.goto(shared.stack.pageUrl), third.goto(shared.stack.pageUrl)]);
    for (const p of [second, third]) {
      await signedInAs(p, username);
      assert.deepEqual(await titles(p), ["Shared by the tabs"]);
    }
    assert.equal(refreshes.length, 2);
    await first.page.reload();
    await signedInAs(first.page, username);

    // Log out in one tab; another tab's Log out then finds no session and simply
    // shows the login screen.
    await second.getByRole("button", { name: "Log out" }).click();
    await atScreen(second, "Log in");
    await third.getByRole("button", { name: "Log out" }).click();
    await atScreen(third, "Log in");
    assert.equal(await third.locator("#auth-notice").textContent(), "You have logged out.");
    await assertNoProblems(third);
    await first.page.reload();
    await atScreen(first.page, "Log in");
  } finally {
    await context.close();
  }
});

test("an expired access token is refreshed without the person noticing", async () => {
  // Page A: the page's clock sees the expiry and refreshes before the call.
  // Page B: the page's clock is frozen at log-in, so it believes its token is still
  // fresh; the server refuses it and the page refreshes and retries the call.
  const a = await openPage(shared.browser, shared.stack.pageUrl);
  const b = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    await register(a.page, uniqueName("erin"));
    await addTodo(a.page, "Erin's todo");
    await register(b.page, uniqueName("frank"));
    await b.page.clock.setFixedTime(Date.now());
    await addTodo(b.page, "Frank's todo");
    a.calls.length = 0;
    b.calls.length = 0;

    await new Promise((r) => setTimeout(r, REFUSED_AFTER_MS));

    for (const [{ page }, title] of [
      [a, "Erin's todo"],
      [b, "Frank's todo"],
    ]) {
      await page.getByRole("checkbox", { name: title }).check();
      await eventually(async () => assert.match(await item(page, title).getAttribute("class"), /\bdone\b/));
      await addTodo(page, `${title}, later`);
      await atScreen(page, "Your todos");
      await assertNoProblems(page);
    }

    const seq = (calls) => calls.map((c) => `${c.method}:${c.grpc}`);
    assert.deepEqual(seq(a.calls).slice(0, 2), ["Refresh:0", "UpdateTodo:0"], `page A: ${seq(a.calls)}`);
    assert.ok(
      a.calls.every((c) => c.grpc === 0),
      `page A: every call succeeded: ${seq(a.calls)}`,
    );
    assert.deepEqual(
      seq(b.calls).slice(0, 4),
      ["UpdateTodo:16", "Refresh:0", "UpdateTodo:0", "CreateTodo:0"],
      "page B was refused (UNAUTHENTICATED), refreshed once and retried",
    );
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test("a session ended elsewhere returns to the login screen, and what was typed is still there after", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("gina");
    await register(page, username);
    await addTodo(page, "Before the end");
    // Half-typed: a new todo, and an edit of the existing one.
    await page.getByLabel("Title", { exact: true }).fill("Typed before the end");
    await page.getByLabel("Details (optional)").fill("and its details");
    await apiLogoutAll(shared.stack, username);

    // Once the access token has run out, the next action finds the session gone.
    await new Promise((r) => setTimeout(r, REFUSED_AFTER_MS));
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await atScreen(page, "Log in");
    assert.match(
      await page.locator("#auth-notice").textContent(),
      /^Your session has ended\. Log in again to carry on/,
    );
    assert.match(await announcements(page), /Your session has ended/);
    assert.match(page.url(), /\/login\?next=/);

    await logIn(page, username);
    await signedInAs(page, username);
    assert.deepEqual(await titles(page), ["Before the end"]);
    assert.equal(await page.getByLabel("Title", { exact: true }).inputValue(), "Typed before the end");
    assert.equal(await page.getByLabel("Details (optional)").inputValue(), "and its details");
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await item(page, "Typed before the end").waitFor();

    // A reload keeps a draft too; logging out forgets it.
    await page.getByLabel("Title", { exact: true }).fill("Draft to forget");
    await page.reload();
    await signedInAs(page, username);
    assert.equal(await page.getByLabel("Title", { exact: true }).inputValue(), "Draft to forget");
    await page.getByRole("button", { name: "Log out" }).click();
    await logIn(page, username);
    await signedInAs(page, username);
    assert.equal(await page.getByLabel("Title", { exact: true }).inputValue(), "");
  } finally {
    await context.close();
  }
});

test("a page on a disallowed origin cannot call the services, and says so", async () => {
  const preflight = async (origin) =>
    fetch(`${shared.stack.todoDirect}/todo.v1.TodoService/ListTodos`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,x-grpc-web,x-user-agent",
      },
    });
  const allowed = await preflight(shared.stack.pageOrigin);
  assert.equal(allowed.headers.get("access-control-allow-origin"), shared.stack.pageOrigin);
  assert.equal(allowed.headers.get("access-control-allow-credentials"), "true");
  const other = new URL(shared.stack.otherOriginUrl).origin;
  const refused = await preflight(other);
  assert.equal(refused.headers.get("access-control-allow-origin"), null);

  const username = uniqueName("henry");
  const token = await apiUser(shared.stack, username);
  await apiCreateTodo(shared.stack, token, "Henry's todo");

  const { context, page, calls } = await openPage(shared.browser, shared.stack.otherOriginUrl);
  try {
    // Neither service answers this origin: not shown as being logged out.
    await atScreen(page, "Can't check your session");
    assert.match(await page.locator("main").textContent(), /Neither service is answering\. Check your connection/);
    assert.equal(await page.locator("#login-form").count(), 0, "no login form");
    assert.equal(await page.getByText("Henry's todo").count(), 0, "no todos loaded");
    assert.ok(calls.length > 0 && calls.every((c) => c.failed), `no call got an answer: ${JSON.stringify(calls)}`);
  } finally {
    await context.close();
  }
});
