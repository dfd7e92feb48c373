// Browser tests: the built page in headless Chromium against the real services.
// Run with `npm test` after `npm run build` and `cargo build -p all-in-one`
// (web/run-browser-tests.sh does all of it).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { artifactsDir, launchBrowser, startStack } from "./harness.mjs";
import { decode, encodeStrings, grpcWebCall, parseFrames } from "./grpcweb.mjs";

// Short access tokens, so the expiry tests need not wait long. The verifier allows
// 10 s of clock leeway: a token is refused about TTL + 10 s after it was issued.
const TTL_SECONDS = 5;
const REFUSED_AFTER_MS = (TTL_SECONDS + 10 + 2) * 1000;
const PASSWORD = "correct horse battery";

let stack;
let browser;

before(async () => {
  stack = await startStack({ accessTokenTtl: `${TTL_SECONDS}s`, pageSize: 5 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

// ------------------------------------------------------------------ helpers

const uniqueName = (prefix) => `${prefix}_${randomBytes(4).toString("hex")}`;

/** Polls `check` (which throws while not yet true) for up to `timeout` ms. */
async function eventually(check, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * A fresh browser context (its own cookie jar) with one page, phone-sized unless
 * `wide`. Records every gRPC call the page makes (method, HTTP and gRPC status) and
 * every console error.
 */
async function openPage(url, { wide = false } = {}) {
  const context = await browser.newContext({
    viewport: wide ? { width: 1024, height: 800 } : { width: 375, height: 740 },
    deviceScaleFactor: wide ? 1 : 2,
  });
  const page = await context.newPage();
  const calls = [];
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
  page.on("response", async (res) => {
    const m = res.url().match(/\/(auth\.v1\.AuthService|todo\.v1\.TodoService)\/(\w+)$/);
    if (!m || res.request().method() !== "POST") return;
    const entry = { method: m[2], http: res.status(), grpc: null };
    calls.push(entry);
    const header = await res.headerValue("grpc-status").catch(() => null);
    if (header !== null) {
      entry.grpc = Number(header);
      return;
    }
    try {
      const { trailers } = parseFrames(await res.body());
      entry.grpc = Number(trailers["grpc-status"]);
    } catch {
      // the body may be gone after a navigation
    }
  });
  page.on("requestfailed", (req) => {
    const m = req.url().match(/\/(auth\.v1\.AuthService|todo\.v1\.TodoService)\/(\w+)$/);
    if (m) calls.push({ method: m[2], failed: req.failure()?.errorText ?? "failed" });
  });
  await page.goto(url);
  return { context, page, calls, consoleErrors };
}

const loginForm = (page) => page.locator("#auth-form");
const todoList = (page) => page.locator("#todo-list");

async function titles(page) {
  return page.locator("#todo-list li.todo .title").allTextContents();
}

function item(page, title) {
  return page.locator("#todo-list li.todo").filter({
    has: page.locator(".title", { hasText: new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) }),
  });
}

async function register(page, username, password = PASSWORD) {
  await loginForm(page).waitFor();
  await page.getByRole("button", { name: "Create one" }).click();
  await page.getByRole("heading", { name: "Create account" }).waitFor();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await signedInAs(page, username);
}

async function logIn(page, username, password = PASSWORD) {
  await loginForm(page).waitFor();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

async function signedInAs(page, username) {
  // The main screen, or an error shown instead of it (then fail with its text).
  await page.locator("#new-todo, #auth-error:visible, #banner:visible").first().waitFor();
  if ((await page.locator("#new-todo").count()) === 0) {
    const shown = await page.locator("#auth-error:visible, #banner:visible").allTextContents();
    assert.fail(`expected the main screen, the page shows: ${shown.join(" | ")}`);
  }
  await eventually(async () => assert.equal(await page.locator("#who").textContent(), username));
  await todoList(page).and(page.locator(":not([aria-busy])")).waitFor();
}

async function addTodo(page, title, description = "") {
  await page.locator("#new-title").fill(title);
  await page.locator("#new-description").fill(description);
  await page.getByRole("button", { name: "Add" }).click();
  await item(page, title).waitFor();
  await eventually(async () => assert.equal(await page.locator("#new-title").inputValue(), ""));
}

async function assertNoVisibleErrors(page) {
  const errors = await page.locator('.error:visible, .banner:visible, [role="alert"]:visible').allTextContents();
  assert.deepEqual(errors, [], "no error is shown");
}

/** The gRPC-Web TokenPair in a Login or Refresh response: access and refresh token. */
async function tokenPair(response) {
  const { message } = parseFrames(await response.body());
  const fields = decode(message);
  return {
    accessToken: fields.get(1)?.[0]?.toString() ?? "",
    refreshToken: fields.get(4)?.[0]?.toString() ?? "",
  };
}

const isCall = (method) => (res) => res.url().endsWith(`/auth.v1.AuthService/${method}`);

// ------------------------------------------------------------------ tests

test("full flow: register, log in, create, page, edit, toggle, delete, errors, log out", async () => {
  const { context, page, calls, consoleErrors } = await openPage(stack.pageUrl);
  try {
    // Nobody is signed in: the start-up Refresh finds no cookie, the login screen shows.
    await loginForm(page).waitFor();
    assert.equal(await page.locator("#account").isVisible(), false);

    const username = uniqueName("alice");
    const loginResponse = page.waitForResponse(isCall("Login"));
    await register(page, username);

    // The session contract: the access token stays in page memory, the refresh token
    // only in an HttpOnly cookie scoped to the auth service.
    const pair = await tokenPair(await loginResponse);
    assert.match(pair.accessToken, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, "Login returned an access token");
    assert.equal(pair.refreshToken, "", "Login over gRPC-Web returns no refresh token in the body");
    const cookies = await context.cookies(stack.authUrl + "/auth.v1.AuthService/Refresh");
    const cookie = cookies.find((c) => c.name === "__Secure-refresh_token");
    assert.ok(cookie, `the __Secure-refresh_token cookie is stored (cookies: ${JSON.stringify(cookies)})`);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, "Strict");
    assert.equal(cookie.path, "/auth.v1.AuthService/");
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

    // Empty list, then seven todos: five on page 1 (newest first), two on page 2.
    await page.locator("li.empty").waitFor();
    for (let i = 1; i <= 7; i++) {
      await addTodo(page, `Task ${i}`, i === 1 ? "the first one" : "");
    }
    assert.deepEqual(await titles(page), ["Task 7", "Task 6", "Task 5", "Task 4", "Task 3"]);
    assert.equal(await page.locator("#page-number").textContent(), "Page 1");
    assert.equal(await page.getByRole("button", { name: "‹ Newer" }).isDisabled(), true);
    await page.getByRole("button", { name: "Older ›" }).click();
    await eventually(async () => assert.deepEqual(await titles(page), ["Task 2", "Task 1"]));
    assert.equal(await page.locator("#page-number").textContent(), "Page 2");
    assert.equal(await page.getByRole("button", { name: "Older ›" }).isDisabled(), true);
    assert.equal(await item(page, "Task 1").locator(".description").textContent(), "the first one");
    await page.getByRole("button", { name: "‹ Newer" }).click();
    await eventually(async () => assert.deepEqual(await titles(page), ["Task 7", "Task 6", "Task 5", "Task 4", "Task 3"]));

    // Edit title and description.
    await item(page, "Task 7").getByRole("button", { name: "Edit Task 7" }).click();
    const editor = page.locator("li.editing");
    await editor.getByRole("textbox", { name: "Title" }).fill("Buy milk");
    await editor.getByRole("textbox", { name: "Description" }).fill("two litres\nsemi-skimmed");
    await page.getByRole("button", { name: "Save" }).click();
    await item(page, "Buy milk").waitFor();
    assert.equal(await item(page, "Buy milk").locator(".description").textContent(), "two litres\nsemi-skimmed");

    // An edit the server refuses: the reason is shown, the editor stays open.
    await item(page, "Task 6").getByRole("button", { name: "Edit Task 6" }).click();
    await editor.getByRole("textbox", { name: "Title" }).fill("   ");
    await page.getByRole("button", { name: "Save" }).click();
    const editError = page.locator("li.editing .error");
    await editError.waitFor();
    assert.match(await editError.textContent(), /title/i);
    await page.getByRole("button", { name: "Cancel" }).click();
    await item(page, "Task 6").waitFor();

    // Toggle, and the filters.
    await page.getByRole("checkbox", { name: "Done: Task 6" }).check();
    await eventually(async () => assert.match(await item(page, "Task 6").getAttribute("class"), /\bdone\b/));
    await page.getByRole("button", { name: "Done", exact: true }).click();
    await eventually(async () => assert.deepEqual(await titles(page), ["Task 6"]));
    await page.getByRole("button", { name: "Open", exact: true }).click();
    await eventually(async () =>
      assert.deepEqual(await titles(page), ["Buy milk", "Task 5", "Task 4", "Task 3", "Task 2"]),
    );
    await page.getByRole("button", { name: "All", exact: true }).click();
    await eventually(async () =>
      assert.deepEqual(await titles(page), ["Buy milk", "Task 6", "Task 5", "Task 4", "Task 3"]),
    );
    // And back.
    await page.getByRole("checkbox", { name: "Done: Task 6" }).uncheck();
    await eventually(async () => assert.doesNotMatch(await item(page, "Task 6").getAttribute("class"), /\bdone\b/));
    await page.getByRole("checkbox", { name: "Done: Task 5" }).check();
    await eventually(async () => assert.match(await item(page, "Task 5").getAttribute("class"), /\bdone\b/));

    // Delete asks first; "Keep" keeps it.
    await page.getByRole("button", { name: "Delete Task 4", exact: true }).click();
    await page.getByRole("button", { name: "Keep" }).click();
    await item(page, "Task 4").waitFor();
    await page.getByRole("button", { name: "Delete Task 4", exact: true }).click();
    await page.getByRole("button", { name: "Confirm delete Task 4" }).click();
    await eventually(async () =>
      assert.deepEqual(await titles(page), ["Buy milk", "Task 6", "Task 5", "Task 3", "Task 2"]),
    );

    // A create the server refuses (blank after trimming): the reason is shown.
    await page.locator("#new-title").fill("   ");
    await page.getByRole("button", { name: "Add" }).click();
    await page.locator("#new-error").waitFor();
    assert.match(await page.locator("#new-error").textContent(), /title: must be 1 to 200 characters/i);
    await page.locator("#new-title").fill("");

    // The main screen, for people to look at.
    await assertNoVisibleErrors(page);
    await page.screenshot({ path: join(artifactsDir, "main-screen.png"), fullPage: true });
    await page.setViewportSize({ width: 1024, height: 800 });
    await page.screenshot({ path: join(artifactsDir, "main-screen-wide.png"), fullPage: true });
    await page.setViewportSize({ width: 375, height: 740 });

    // Log out: back to the login screen, the cookie is gone, a reload stays logged out.
    await page.getByRole("button", { name: "Log out" }).click();
    await loginForm(page).waitFor();
    assert.equal(await page.locator("#auth-notice").textContent(), "You have logged out.");
    const left = (await context.cookies(stack.authUrl + "/auth.v1.AuthService/Refresh")).filter(
      (c) => c.name === "__Secure-refresh_token" && c.value !== "",
    );
    assert.deepEqual(left, [], "Logout cleared the refresh cookie");
    await page.reload();
    await loginForm(page).waitFor();
    assert.equal(await page.locator("#account").isVisible(), false);

    // A wrong password is reported, a right one brings the todos back.
    await logIn(page, username, "not the password");
    await page.locator("#auth-error").waitFor();
    assert.match(await page.locator("#auth-error").textContent(), /invalid username or password/i);
    await logIn(page, username);
    await signedInAs(page, username);
    assert.deepEqual(await titles(page), ["Buy milk", "Task 6", "Task 5", "Task 3", "Task 2"]);
    await page.screenshot({ path: join(artifactsDir, "login-again.png") });

    assert.deepEqual(
      calls.filter((c) => c.failed),
      [],
      "no call failed at the network level",
    );
    assert.deepEqual(
      consoleErrors.filter((e) => !/status of 4\d\d|401/.test(e)),
      [],
      "no script errors",
    );
  } finally {
    await context.close();
  }
});

test("two users in two browser contexts do not see each other's todos", async () => {
  const bob = await openPage(stack.pageUrl);
  const carol = await openPage(stack.pageUrl);
  try {
    const bobName = uniqueName("bob");
    const carolName = uniqueName("carol");
    await register(bob.page, bobName);
    await register(carol.page, carolName);
    await addTodo(bob.page, "Bob's secret plan");
    await addTodo(carol.page, "Carol's shopping");
    await addTodo(bob.page, "Bob's second");

    for (const { page } of [bob, carol]) {
      await page.reload();
      await page.locator("#new-todo").waitFor();
    }
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
  const { context, page, calls } = await openPage(stack.pageUrl);
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
    assert.equal(await loginForm(page).count(), 0, "no login screen");
    // (A slow machine may need one more refresh: the access token lives 5 s.)
    const seen = calls.map((c) => `${c.method}:${c.grpc}`);
    assert.equal(seen[0], "Refresh:0", `start-up refreshes first: ${seen}`);
    assert.ok(seen.includes("GetMe:0") && seen.includes("ListTodos:0"), `${seen}`);
    assert.ok(calls.every((c) => c.grpc === 0), `every call succeeded: ${seen}`);

    // Twice more: the rotated cookie keeps working.
    for (let i = 0; i < 2; i++) {
      await page.reload();
      await signedInAs(page, username);
    }
    assert.deepEqual(await titles(page), ["Survives a reload"]);

    // Another context has no cookie, so no session.
    const other = await openPage(stack.pageUrl);
    try {
      await loginForm(other.page).waitFor();
      assert.equal(await other.page.locator("#new-todo").count(), 0);
    } finally {
      await other.context.close();
    }
  } finally {
    await context.close();
  }
});

test("tabs of one browser share the session: simultaneous refreshes, log out in one tab", async () => {
  const first = await openPage(stack.pageUrl);
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
    await Promise.all([second.goto(stack.pageUrl), third.goto(stack.pageUrl)]);
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
    await loginForm(second).waitFor();
    await third.getByRole("button", { name: "Log out" }).click();
    await loginForm(third).waitFor();
    assert.equal(await third.locator("#auth-notice").textContent(), "You have logged out.");
    await assertNoVisibleErrors(third);
    await first.page.reload();
    await loginForm(first.page).waitFor();
  } finally {
    await context.close();
  }
});

test("an expired access token is refreshed without the person noticing", async () => {
  // Page A: the page's clock sees the expiry and refreshes before the call.
  // Page B: the page's clock is frozen at log-in, so it believes its token is still
  // fresh; the server refuses it and the page refreshes and retries the call.
  const a = await openPage(stack.pageUrl);
  const b = await openPage(stack.pageUrl);
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
      await page.getByRole("checkbox", { name: `Done: ${title}` }).check();
      await eventually(async () => assert.match(await item(page, title).getAttribute("class"), /\bdone\b/));
      await addTodo(page, `${title}, later`);
      assert.equal(await loginForm(page).count(), 0, "still signed in");
      await assertNoVisibleErrors(page);
    }

    const seq = (calls) => calls.map((c) => `${c.method}:${c.grpc}`);
    // Page A: refreshed before the call, never refused. (A slow machine may refresh
    // once more later: the access token lives 5 s.)
    assert.deepEqual(seq(a.calls).slice(0, 2), ["Refresh:0", "UpdateTodo:0"], `page A: ${seq(a.calls)}`);
    assert.ok(a.calls.every((c) => c.grpc === 0), `page A: every call succeeded: ${seq(a.calls)}`);
    // Page B: refused (UNAUTHENTICATED), refreshed once, retried; its frozen clock
    // never asks for another refresh.
    assert.deepEqual(
      seq(b.calls),
      ["UpdateTodo:16", "Refresh:0", "UpdateTodo:0", "CreateTodo:0", "ListTodos:0"],
      "page B was refused (UNAUTHENTICATED), refreshed once and retried",
    );
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test("a session revoked elsewhere returns the page to the login screen", async () => {
  const { context, page } = await openPage(stack.pageUrl);
  try {
    const username = uniqueName("gina");
    await register(page, username);
    await addTodo(page, "Before the end");
    // End every session of the user from outside the page (as "log out everywhere"
    // would): LogoutAll with a token from a separate login.
    const login = await grpcWebCall(
      stack.authDirect,
      "/auth.v1.AuthService/Login",
      encodeStrings({ 1: username, 2: PASSWORD }),
    );
    assert.equal(login.status, 0, login.grpcMessage);
    const token = decode(login.message).get(1)[0].toString();
    const out = await grpcWebCall(stack.authDirect, "/auth.v1.AuthService/LogoutAll", Buffer.alloc(0), {
      authorization: `Bearer ${token}`,
    });
    assert.equal(out.status, 0, out.grpcMessage);

    // Once the access token has run out, the next action finds the session gone.
    await new Promise((r) => setTimeout(r, REFUSED_AFTER_MS));
    await page.getByRole("checkbox", { name: "Done: Before the end" }).check();
    await loginForm(page).waitFor();
    assert.equal(
      await page.locator("#auth-notice").textContent(),
      "Your session has ended. Please log in again.",
    );
    await logIn(page, username);
    await signedInAs(page, username);
    assert.deepEqual(await titles(page), ["Before the end"]);
  } finally {
    await context.close();
  }
});

test("a page on a disallowed origin cannot call the services", async () => {
  // The server answers CORS preflights for the allowed origin only.
  const preflight = async (origin) =>
    fetch(`${stack.todoDirect}/todo.v1.TodoService/ListTodos`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,x-grpc-web,x-user-agent",
      },
    });
  const allowed = await preflight(stack.pageOrigin);
  assert.equal(allowed.headers.get("access-control-allow-origin"), stack.pageOrigin);
  assert.equal(allowed.headers.get("access-control-allow-credentials"), "true");
  const other = new URL(stack.otherOriginUrl).origin;
  const refused = await preflight(other);
  assert.equal(refused.headers.get("access-control-allow-origin"), null);

  // A user with todos, made from Node (no browser, no CORS).
  const username = uniqueName("henry");
  const reg = await grpcWebCall(stack.authDirect, "/auth.v1.AuthService/Register", encodeStrings({ 1: username, 2: PASSWORD }));
  assert.equal(reg.status, 0, reg.grpcMessage);
  const login = await grpcWebCall(stack.authDirect, "/auth.v1.AuthService/Login", encodeStrings({ 1: username, 2: PASSWORD }));
  assert.equal(login.status, 0, login.grpcMessage);
  const token = decode(login.message).get(1)[0].toString();
  const made = await grpcWebCall(stack.todoDirect, "/todo.v1.TodoService/CreateTodo", encodeStrings({ 1: "Henry's todo" }), {
    authorization: `Bearer ${token}`,
  });
  assert.equal(made.status, 0, made.grpcMessage);

  // The same page served from http://127.0.0.1:<port> (not in CORS_ALLOWED_ORIGINS).
  const { context, page, calls, consoleErrors } = await openPage(stack.otherOriginUrl);
  try {
    await loginForm(page).waitFor();
    await page.locator("#banner").waitFor();
    assert.match(await page.locator("#banner").textContent(), /Cannot reach the server/);

    await logIn(page, username);
    await page.locator("#auth-error").waitFor();
    assert.match(await page.locator("#auth-error").textContent(), /Cannot reach the server/);
    assert.equal(await todoList(page).count(), 0, "no todo list");
    assert.equal(await page.getByText("Henry's todo").count(), 0, "no todos loaded");

    // Even with a valid token in hand, script on this origin cannot read the todos.
    const result = await page.evaluate(
      async ({ url, token }) => {
        try {
          const res = await fetch(`${url}/todo.v1.TodoService/ListTodos`, {
            method: "POST",
            headers: {
              "content-type": "application/grpc-web+proto",
              "x-grpc-web": "1",
              authorization: `Bearer ${token}`,
            },
            body: new Uint8Array(5),
          });
          return `status ${res.status}`;
        } catch (e) {
          return `${e.name}: ${e.message}`;
        }
      },
      { url: stack.todoUrl, token },
    );
    assert.match(result, /^TypeError: Failed to fetch/);

    assert.ok(
      calls.some((c) => c.method === "Refresh" && c.failed) && calls.some((c) => c.method === "Login" && c.failed),
      `the page's calls failed in the browser: ${JSON.stringify(calls)}`,
    );
    assert.ok(
      calls.every((c) => c.failed),
      `no call got an answer: ${JSON.stringify(calls)}`,
    );
    assert.ok(
      consoleErrors.some((e) => /blocked by CORS policy/.test(e)),
      `Chromium reports the CORS block: ${JSON.stringify(consoleErrors)}`,
    );
    await page.screenshot({ path: join(artifactsDir, "disallowed-origin.png") });
  } finally {
    await context.close();
  }
});
