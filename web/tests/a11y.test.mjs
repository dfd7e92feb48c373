// axe-core on every screen and its states, in the light and the dark theme (the
// system setting, emulated), and no sideways scrolling at 320 px.

import assert from "node:assert/strict";
import { test } from "node:test";
import { sharedStack } from "./harness.mjs";
import {
  addTodo,
  assertAxeClean,
  assertNoHorizontalScroll,
  atScreen,
  eventually,
  item,
  openPage,
  PASSWORD,
  register,
  uniqueName,
  VIEWPORTS,
} from "./helpers.mjs";

const shared = sharedStack({ name: "a11y", accessTokenTtl: "15m", config: { pageSize: 3, undoMs: 60_000 } });

/** Scans the page as it is now in both themes, at 375 px, and checks 320 px for sideways scroll. */
async function check(page, label) {
  for (const colorScheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme });
    // Buttons fade their background over 120 ms: scan the settled colours.
    await page.waitForTimeout(300);
    const passes = await assertAxeClean(page, `${label} (${colorScheme})`);
    assert.ok(passes > 10, `${label}: axe ran its rules (${passes} passed)`);
  }
  // The only live regions are the two announcers (lists and forms are never live).
  const live = await page.evaluate(() =>
    [...document.querySelectorAll("[aria-live], [role=status], [role=alert], [role=log]")].map(
      (el) => el.getAttribute("data-testid") ?? el.outerHTML.slice(0, 80),
    ),
  );
  assert.deepEqual(live.sort(), ["announcer", "announcer-assertive"], `${label}: live regions`);
  await page.setViewportSize(VIEWPORTS.narrow);
  await assertNoHorizontalScroll(page, `${label} at 320 px`);
  await page.setViewportSize(VIEWPORTS.phone);
  await page.emulateMedia({ colorScheme: "light" });
}

test("the dark theme follows the system setting", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl, { colorScheme: "dark" });
  try {
    await atScreen(page, "Log in");
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    assert.equal(bg, "rgb(17, 20, 24)");
    await page.emulateMedia({ colorScheme: "light" });
    assert.equal(
      await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor),
      "rgb(255, 255, 255)",
    );
  } finally {
    await context.close();
  }
});

test("log in, register, forgot password, reset and verify links, not found: no violations", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    await atScreen(page, "Log in");
    await check(page, "log in");
    await page.getByLabel("Username").fill("nobody_here");
    await page.getByLabel("Password", { exact: true }).fill("wrong password");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.locator("#login-error").waitFor();
    await check(page, "log in with an error");

    await page.getByRole("link", { name: "Create one" }).click();
    await atScreen(page, "Create an account");
    await check(page, "register");
    await page.getByLabel("Username").fill("x");
    await page.getByLabel("Email address (optional)").fill("nope");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.locator("#register-username-error").waitFor();
    await check(page, "register with field errors");

    await page.goto(`${shared.stack.pageUrl}forgot-password`);
    await atScreen(page, "Forgot your password?");
    await check(page, "forgot password");
    await page.getByLabel("Email address").fill("someone@example.com");
    await page.getByRole("button", { name: "Send reset link" }).click();
    await atScreen(page, "Check your email");
    await check(page, "forgot password, sent");

    await page.goto(`${shared.stack.pageUrl}reset-password?token=not-a-real-token`);
    await atScreen(page, "Set a new password");
    await check(page, "reset password");
    await page.getByLabel("New password").fill("a long enough password");
    await page.getByRole("button", { name: "Set new password" }).click();
    await page.locator("#reset-error").waitFor();
    await check(page, "reset password, bad link");

    await page.goto(`${shared.stack.pageUrl}verify-email?token=not-a-real-token`);
    await atScreen(page, "We couldn't confirm your email address");
    await check(page, "verify email, bad link");
    await page.goto(`${shared.stack.pageUrl}verify-email`);
    await atScreen(page, "Confirm your email address");
    await check(page, "verify email, no token");

    await page.goto(`${shared.stack.pageUrl}no-such-page`);
    await atScreen(page, "Page not found");
    await check(page, "not found");
  } finally {
    await context.close();
  }
});

test("the list in its states: items, a long title, editing, a deleted row, clear completed, pages, a problem", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    await register(page, uniqueName("axe"), { email: "axe@example.com" });
    await check(page, "empty list with the welcome notice");
    await addTodo(page, "w".repeat(200));
    await addTodo(page, "With details", "Line one\nLine two, and a rather long second line to wrap at 320 pixels");
    await addTodo(page, "Done one");
    await addTodo(page, "Page two item");
    await page.getByRole("checkbox", { name: "Done one" }).check();
    await check(page, "list with items, pages and clear completed");

    await page.getByRole("button", { name: "Edit With details" }).click();
    await page.locator("li.editing").waitFor();
    await check(page, "editing a todo");
    await page.keyboard.press("Escape");

    await page.getByRole("button", { name: "Delete With details" }).click();
    await page.locator("li.deleted").waitFor();
    await check(page, "a deleted row with undo");
    await page.getByRole("button", { name: "Undo delete of With details" }).click();
    await item(page, "With details").waitFor();

    await page.getByRole("button", { name: "Clear completed (1)" }).click();
    await page.locator("#clear-undo-bar").waitFor();
    await check(page, "clear completed with undo");
    await page.locator("#undo-clear").click();

    // A change that gets no answer: the problem notice.
    await page.route("**/todo.v1.TodoService/UpdateTodo", (route) => route.abort("connectionrefused"));
    await page.getByRole("checkbox", { name: "With details" }).check();
    await page.locator(".notice-problem").waitFor({ timeout: 15_000 });
    await check(page, "a problem notice");
    await page.unroute("**/todo.v1.TodoService/UpdateTodo");

    await page.getByRole("link", { name: /^Done/ }).click();
    await eventually(async () => assert.equal(new URL(page.url()).search, "?filter=done"));
    await check(page, "the Done filter");
  } finally {
    await context.close();
  }
});

test("the account page, the delete confirmation, and the screen for services that do not answer", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    await register(page, uniqueName("axeacct"), { email: "axeacct@example.com" });
    await page.getByRole("link", { name: "Account" }).click();
    await atScreen(page, "Your account");
    await page.getByTestId("session").first().waitFor();
    await page.locator(".events li").first().waitFor();
    await check(page, "account");

    await page.locator("#delete-password").fill(PASSWORD);
    await page.getByRole("button", { name: "Continue to delete…" }).click();
    await page.locator("#delete-confirm-text").waitFor();
    await check(page, "account, delete confirmation");
  } finally {
    await context.close();
  }
  const other = await openPage(shared.browser, shared.stack.otherOriginUrl);
  try {
    await atScreen(other.page, "Can't check your session");
    await check(other.page, "services not answering");
  } finally {
    await other.context.close();
  }
});

/** Contrast of two computed CSS colours (rgb()/rgba() strings, alpha ignored). */
function ratio(a, b) {
  const lum = (c) => {
    const [r, g, bl] = c
      .match(/[\d.]+/g)
      .slice(0, 3)
      .map((v) => {
        const x = Number(v) / 255;
        return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
      });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

test("as rendered: the selected filter under the pointer, and input borders, keep their contrast", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    await register(page, uniqueName("hover"));
    for (const colorScheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme });
      const selected = page.locator('.filters a[aria-current="page"]');
      await selected.hover();
      await page.waitForTimeout(300);
      const chip = await selected.evaluate((el) => ({
        fg: getComputedStyle(el).color,
        bg: getComputedStyle(el).backgroundColor,
      }));
      assert.ok(
        ratio(chip.fg, chip.bg) >= 4.5,
        `${colorScheme}: hovered selected filter ${JSON.stringify(chip)} is ${ratio(chip.fg, chip.bg).toFixed(2)}:1`,
      );
      const input = await page.locator("#new-title").evaluate((el) => ({
        border: getComputedStyle(el).borderTopColor,
        bg: getComputedStyle(el).backgroundColor,
        around: getComputedStyle(el.closest(".card")).backgroundColor,
      }));
      for (const against of [input.bg, input.around]) {
        assert.ok(
          ratio(input.border, against) >= 3,
          `${colorScheme}: input border ${JSON.stringify(input)} is ${ratio(input.border, against).toFixed(2)}:1`,
        );
      }
    }
  } finally {
    await context.close();
  }
});
