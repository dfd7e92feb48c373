// One service down, the other up: auth-service and todo-service run as two
// processes here, and a test stops one (SIGTERM) and starts it again on its port.
// The page must say which service is not answering (not "check your connection"),
// once per cause, roll back what it showed, keep what was typed, and retry.

import assert from "node:assert/strict";
import { test } from "node:test";
import { sharedStack } from "./harness.mjs";
import {
  addTodo,
  assertFocus,
  atScreen,
  eventually,
  item,
  openPage,
  register,
  signedInAs,
  titles,
  uniqueName,
} from "./helpers.mjs";

const shared = sharedStack({ split: true, name: "outage", accessTokenTtl: "15m" });

const problems = (page) => page.locator(".notice-problem");

test("the todo-service stopped: one message that names it, changes rolled back, a retry that works", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("olga");
    await register(page, username);
    await addTodo(page, "Alpha");
    await addTodo(page, "Beta");

    await shared.stack.stopService("todo");
    try {
      // A tick shows at once, then is taken back when the service does not answer.
      await page.getByRole("checkbox", { name: "Alpha" }).check();
      await problems(page).first().waitFor({ timeout: 15_000 });
      assert.equal(await page.getByRole("checkbox", { name: "Alpha" }).isChecked(), false, "rolled back");
      const first = await problems(page).first().textContent();
      assert.match(first, /The todo service is not answering\./);
      assert.match(first, /Not saved: Marking “Alpha” done/);
      assert.doesNotMatch(first, /connection/i, "not blamed on the connection: the auth-service answers");

      // A second failure of the same cause adds to that message, not a second copy.
      await page.getByRole("checkbox", { name: "Beta" }).check();
      await eventually(async () =>
        assert.match(await problems(page).first().textContent(), /Marking “Alpha” done; Marking “Beta” done/),
      );
      assert.equal(await problems(page).count(), 1, "one message for one cause");
      assert.equal(await page.getByRole("checkbox", { name: "Beta" }).isChecked(), false);

      // Adding fails in words, beside the form, and the text stays.
      await page.getByLabel("Title", { exact: true }).fill("Gamma");
      await page.getByRole("button", { name: "Add", exact: true }).click();
      await eventually(async () =>
        assert.equal(
          await page.locator("#new-error").textContent(),
          "Not added: The todo service is not answering. Try again in a moment.",
        ),
      );
      await assertFocus(page, "new-error", "focus on the reason it was not added");
      assert.equal(await page.getByLabel("Title", { exact: true }).inputValue(), "Gamma");

      // The auth-service still answers: the account page loads.
      await page.getByRole("link", { name: "Account" }).click();
      await atScreen(page, "Your account");
      await page.getByTestId("session").first().waitFor();
      await page.getByRole("link", { name: "List" }).click();
      await atScreen(page, "Your todos");
      assert.equal(await problems(page).count(), 1, "still one message");
    } finally {
      await shared.stack.startService("todo");
    }

    // Back up: "Try again" sends what was not saved.
    await problems(page).getByRole("button", { name: "Try again" }).click();
    await eventually(async () => assert.equal(await problems(page).count(), 0));
    await eventually(async () => {
      assert.equal(await page.getByRole("checkbox", { name: "Alpha" }).isChecked(), true);
      assert.equal(await page.getByRole("checkbox", { name: "Beta" }).isChecked(), true);
    });
    await assertFocus(page, "main-heading", "focus moves on purpose when the message goes");
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await item(page, "Gamma").waitFor();
    await page.reload();
    await signedInAs(page, username);
    assert.deepEqual(await titles(page), ["Gamma", "Beta", "Alpha"]);
    assert.match(await item(page, "Alpha").getAttribute("class"), /\bdone\b/);
    assert.match(await item(page, "Beta").getAttribute("class"), /\bdone\b/);
  } finally {
    await context.close();
  }
});

test("the auth-service down at reload is said as such, not shown as being logged out", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("otto");
    await register(page, username);
    await addTodo(page, "Still mine");

    await shared.stack.stopService("auth");
    try {
      await page.reload();
      await atScreen(page, "Can't check your session");
      const text = await page.locator("main").textContent();
      assert.match(text, /The sign-in service is not answering\./);
      assert.match(text, /You may still be logged in/);
      assert.equal(await page.locator("#login-form").count(), 0, "not the login screen");
    } finally {
      await shared.stack.startService("auth");
    }
    await page.getByRole("button", { name: "Try again now" }).click();
    await signedInAs(page, username);
    assert.deepEqual(await titles(page), ["Still mine"]);
  } finally {
    await context.close();
  }
});
