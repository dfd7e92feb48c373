// What the browser tests share: opening a page that records its gRPC calls and
// console errors, the person's steps (register, log in, add a todo) done through
// the page by role and label, and an axe-core scan.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { decode, encodeStrings, grpcWebCall, parseFrames } from "./grpcweb.mjs";

export const PASSWORD = "correct horse battery";

export const uniqueName = (prefix) => `${prefix}_${randomBytes(4).toString("hex")}`;

export const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Polls `check` (which throws while not yet true) for up to `timeout` ms. */
export async function eventually(check, timeout = 10_000) {
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

export const VIEWPORTS = {
  phone: { width: 375, height: 740 },
  narrow: { width: 320, height: 640 },
  wide: { width: 1280, height: 800 },
};

/**
 * A fresh browser context (its own cookie jar) with one page. Records every gRPC
 * call the page makes (method, HTTP and gRPC status) and every console error.
 */
export async function openPage(browser, url, { viewport = VIEWPORTS.phone, colorScheme = "light" } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, deviceScaleFactor: 1 });
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
  if (url) await page.goto(url);
  return { context, page, calls, consoleErrors };
}

/** Console errors that are not the browser reporting a refused call. */
export function scriptErrors(consoleErrors) {
  return consoleErrors.filter((e) => !/status of \d\d\d|net::ERR_|Failed to load resource|CORS policy/.test(e));
}

export const mainHeading = (page) => page.locator("h1#main-heading");

export async function atScreen(page, name) {
  await eventually(async () => assert.equal((await mainHeading(page).textContent())?.trim(), name));
}

/** The accessible name (roughly) and id of the focused element. */
export async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { tag: "body", id: "", name: "" };
    const labelled = el.getAttribute("aria-labelledby");
    let name = el.getAttribute("aria-label") ?? "";
    if (!name && labelled)
      name = labelled
        .split(" ")
        .map((id) => document.getElementById(id)?.textContent ?? "")
        .join(" ");
    if (!name && el.labels?.length) name = el.labels[0].textContent ?? "";
    if (!name) name = el.textContent ?? "";
    return { tag: el.tagName.toLowerCase(), id: el.id, name: name.replace(/\s+/g, " ").trim() };
  });
}

export async function assertFocus(page, expected, message) {
  await eventually(async () => {
    const f = await focused(page);
    if (expected instanceof RegExp) assert.match(`${f.id} ${f.name}`, expected, message);
    else assert.equal(f.id, expected, `${message ?? "focus"}: focused ${JSON.stringify(f)}`);
  }, 5000);
}

export async function register(page, username, { password = PASSWORD, email = "" } = {}) {
  await page.getByRole("link", { name: "Create one" }).click();
  await atScreen(page, "Create an account");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  if (email) await page.getByLabel("Email address (optional)").fill(email);
  await page.getByRole("button", { name: "Create account" }).click();
  await signedInAs(page, username);
}

export async function logIn(page, username, password = PASSWORD) {
  await atScreen(page, "Log in");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

export async function signedInAs(page, username) {
  await page.locator("#new-todo, .error:visible").first().waitFor();
  if ((await page.locator("#new-todo").count()) === 0) {
    const shown = await page.locator(".error:visible").allTextContents();
    assert.fail(`expected the list, the page shows: ${shown.join(" | ")}`);
  }
  await eventually(async () => assert.equal(await page.getByTestId("who").textContent(), username));
  await page.locator("#todo-list:not([aria-busy])").waitFor();
}

export async function titles(page) {
  return page.locator("#todo-list li.todo:not(.deleted) .title").allTextContents();
}

export function item(page, title) {
  return page.locator("#todo-list li.todo").filter({
    has: page.locator(".title", { hasText: new RegExp(`^${escapeRegExp(title)}$`) }),
  });
}

export async function addTodo(page, title, description = "") {
  await page.getByLabel("Title", { exact: true }).fill(title);
  await page.getByLabel("Details (optional)").fill(description);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await item(page, title).waitFor();
  await eventually(async () => assert.equal(await page.locator("#new-title").inputValue(), ""));
}

export async function visibleProblems(page) {
  return page.locator(".error:visible, .notice-problem:visible").allTextContents();
}

export async function assertNoProblems(page) {
  assert.deepEqual(await visibleProblems(page), [], "no error is shown");
}

export async function announcements(page) {
  return (await page.locator('[data-testid^="announcer"]').allTextContents()).join(" ");
}

// ------------------------------------------------------------------ outside the page

/** Registers (and logs in) from Node, no browser: returns the access token. */
export async function apiUser(stack, username, password = PASSWORD) {
  const reg = await grpcWebCall(
    stack.authDirect,
    "/auth.v1.AuthService/Register",
    encodeStrings({ 1: username, 2: password }),
  );
  assert.equal(reg.status, 0, reg.grpcMessage);
  return apiLogin(stack, username, password);
}

export async function apiLogin(stack, username, password = PASSWORD, headers = {}) {
  const login = await grpcWebCall(
    stack.authDirect,
    "/auth.v1.AuthService/Login",
    encodeStrings({ 1: username, 2: password }),
    headers,
  );
  assert.equal(login.status, 0, login.grpcMessage);
  return decode(login.message).get(1)[0].toString();
}

export async function apiCreateTodo(stack, token, title) {
  const made = await grpcWebCall(stack.todoDirect, "/todo.v1.TodoService/CreateTodo", encodeStrings({ 1: title }), {
    authorization: `Bearer ${token}`,
  });
  assert.equal(made.status, 0, made.grpcMessage);
}

export async function apiLogoutAll(stack, username) {
  const token = await apiLogin(stack, username);
  const out = await grpcWebCall(stack.authDirect, "/auth.v1.AuthService/LogoutAll", Buffer.alloc(0), {
    authorization: `Bearer ${token}`,
  });
  assert.equal(out.status, 0, out.grpcMessage);
}

// ------------------------------------------------------------------ axe-core

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/**
 * Runs axe-core on the page (WCAG 2.0/2.1/2.2 A and AA, and best practices) and
 * fails with the violations listed. Returns how many rules passed.
 */
export async function assertAxeClean(page, label) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
      resultTypes: ["violations"],
    });
    return {
      passes: r.passes.length,
      violations: r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes
          .slice(0, 5)
          .map((n) => `${n.target.join(" ")}: ${n.failureSummary?.split("\n").slice(1).join(" ")}`),
      })),
    };
  });
  assert.deepEqual(
    result.violations,
    [],
    `axe found violations on ${label}:\n${JSON.stringify(result.violations, null, 2)}`,
  );
  return result.passes;
}

/** Fails when the page scrolls sideways (content wider than the viewport). */
export async function assertNoHorizontalScroll(page, label) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client, `${label}: the page is ${scroll} px wide in a ${client} px viewport`);
}
