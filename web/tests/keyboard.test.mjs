// The main flows with the keyboard alone (Tab, Shift+Tab, Enter, Space, Escape),
// checking after each action where focus went: never <body>.

import assert from "node:assert/strict";
import { test } from "node:test";
import { sharedStack } from "./harness.mjs";
import {
  assertFocus,
  eventually,
  focused,
  item,
  openPage,
  PASSWORD,
  signedInAs,
  titles,
  uniqueName,
} from "./helpers.mjs";

const shared = sharedStack({ name: "keyboard", accessTokenTtl: "15m", config: { pageSize: 5, undoMs: 2500 } });

/**
 * Presses Tab (or Shift+Tab) until the focused element's id or accessible name
 * matches `target`; fails if it is not reached in `max` presses. Focus on <body>
 * along the way fails too.
 */
async function tabTo(page, target, { back = false, max = 40 } = {}) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
    const f = await focused(page);
    if (target instanceof RegExp ? target.test(`${f.id} ${f.name}`) : f.id === target) return f;
  }
  assert.fail(`${target} not reached with ${back ? "Shift+Tab" : "Tab"} in ${max} presses`);
}

async function notOnBody(page, after) {
  const f = await focused(page);
  assert.notEqual(f.tag, "body", `focus fell to <body> after ${after}`);
}

test("keyboard only: register, add, tick, edit, cancel, delete and undo, filter, page, log out and in", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    await page.locator("h1").waitFor();
    // The first Tab reaches the skip link, which moves focus into the main content.
    await page.keyboard.press("Tab");
    assert.equal((await focused(page)).name, "Skip to content");
    await page.keyboard.press("Enter");
    await assertFocus(page, "main", "the skip link");

    await tabTo(page, /Create one/);
    await page.keyboard.press("Enter");
    await assertFocus(page, "main-heading", "going to Create an account");
    const username = uniqueName("keys");
    await tabTo(page, "register-username");
    await page.keyboard.type(username);
    await tabTo(page, "register-password");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await signedInAs(page, username);
    await assertFocus(page, "main-heading", "after registering");

    // Add with Enter; focus stays in the title for the next one.
    await tabTo(page, "new-title");
    for (const t of ["First", "Second", "Third", "Fourth", "Fifth", "Sixth"]) {
      await page.keyboard.type(t);
      await page.keyboard.press("Enter");
      await item(page, t).waitFor();
      await assertFocus(page, "new-title", `after adding ${t}`);
    }
    assert.deepEqual(await titles(page), ["Sixth", "Fifth", "Fourth", "Third", "Second"]);

    // Tick with Space.
    await tabTo(page, /^done-\S+ Sixth$/);
    await page.keyboard.press("Space");
    await eventually(async () => assert.match(await item(page, "Sixth").getAttribute("class"), /\bdone\b/));
    await assertFocus(page, /^done-\S+ Sixth$/, "after ticking");

    // Edit: Enter opens it with focus in the title; Enter saves; focus back on Edit.
    await tabTo(page, /Edit Sixth/);
    await page.keyboard.press("Enter");
    await assertFocus(page, /^edit-title-/, "opening the editor");
    await page.keyboard.press("Control+a");
    await page.keyboard.type("Sixth, renamed");
    await page.keyboard.press("Enter");
    await item(page, "Sixth, renamed").waitFor();
    await assertFocus(page, /Edit Sixth, renamed/, "after saving");
    // Escape cancels, focus back on Edit.
    await page.keyboard.press("Enter");
    await assertFocus(page, /^edit-title-/, "opening the editor again");
    await page.keyboard.type(" and more");
    await page.keyboard.press("Escape");
    await item(page, "Sixth, renamed").waitFor();
    await assertFocus(page, /Edit Sixth, renamed/, "after Escape");

    // Delete: focus goes to Undo; Enter undoes, focus back on the todo.
    await page.keyboard.press("Tab");
    assert.match((await focused(page)).name, /^Delete Sixth, renamed$/);
    await page.keyboard.press("Enter");
    await assertFocus(page, /Undo delete of Sixth, renamed/, "after deleting");
    await page.keyboard.press("Enter");
    await item(page, "Sixth, renamed").waitFor();
    await assertFocus(page, /^done-\S+ Sixth, renamed$/, "after undoing");

    // Paging: Next page moves focus to the list's heading.
    await tabTo(page, /Next page/);
    await page.keyboard.press("Enter");
    await eventually(async () => assert.deepEqual(await titles(page), ["First"]));
    await assertFocus(page, "list-heading", "after paging");
    await notOnBody(page, "paging");
    await tabTo(page, /Previous page/);
    await page.keyboard.press("Enter");
    await eventually(async () => assert.equal((await titles(page)).length, 5));
    await assertFocus(page, "list-heading", "after paging back");

    // Filter with Enter on a link: the URL changes, focus stays on the link.
    await tabTo(page, /Done \(1\)/);
    await page.keyboard.press("Enter");
    await eventually(async () => assert.deepEqual(await titles(page), ["Sixth, renamed"]));
    assert.equal(new URL(page.url()).search, "?filter=done");
    await assertFocus(page, /Done \(1\)/, "after filtering");

    // Log out and in again.
    await tabTo(page, /^ Log out$|Log out/, { back: true });
    await page.keyboard.press("Enter");
    await assertFocus(page, "main-heading", "after logging out");
    await tabTo(page, "login-username");
    await page.keyboard.type(username);
    await page.keyboard.press("Tab");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await signedInAs(page, username);
    await assertFocus(page, "main-heading", "after logging in");
  } finally {
    await context.close();
  }
});

test("keyboard only: the account page, ending the session on this device, and clear completed", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("keys2");
    await page.getByRole("link", { name: "Create one" }).click();
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Password", { exact: true }).press("Enter");
    await signedInAs(page, username);

    await tabTo(page, "new-title");
    await page.keyboard.type("Done already");
    await page.keyboard.press("Enter");
    await item(page, "Done already").waitFor();
    await tabTo(page, /^done-/);
    await page.keyboard.press("Space");
    await tabTo(page, /Clear completed \(1\)/);
    await page.keyboard.press("Enter");
    await assertFocus(page, "undo-clear", "after clearing");
    await page.keyboard.press("Tab");
    await eventually(async () => assert.equal(await page.locator("li.empty").count(), 1), 8000);

    await tabTo(page, /Account/, { back: true });
    await page.keyboard.press("Enter");
    await assertFocus(page, "main-heading", "arriving at the account page");
    await tabTo(page, /Log out on this device/);
    await page.keyboard.press("Enter");
    await assertFocus(page, "main-heading", "after logging out from the sessions list");
    assert.equal((await page.locator("#main-heading").textContent()).trim(), "Log in");
  } finally {
    await context.close();
  }
});
