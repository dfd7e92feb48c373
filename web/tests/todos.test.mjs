// The list against the real pair (all-in-one): paging and filters in the URL, the
// counts, optimistic ticks, edit in place, delete and clear completed with undo,
// and input errors in words, tied to their fields, with focus where it should be.

import assert from "node:assert/strict";
import { test } from "node:test";
import { sharedStack } from "./harness.mjs";
import {
  addTodo,
  announcements,
  assertFocus,
  assertNoProblems,
  eventually,
  item,
  openPage,
  register,
  signedInAs,
  titles,
  uniqueName,
} from "./helpers.mjs";

const UNDO_MS = 2500;
// Pages of 5 on screen; the list is read 4 at a time, so 7 todos take two calls.
const shared = sharedStack({
  name: "todos",
  accessTokenTtl: "15m",
  config: { pageSize: 5, fetchPageSize: 4, undoMs: UNDO_MS },
});

const summary = (page) => page.locator("#list-summary").textContent();
const listHeading = (page) => page.locator("#list-heading").textContent();

test("paging and filters live in the URL; counts of what is left; ticks show at once", async () => {
  const { context, page, calls } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("paula");
    await register(page, username);
    assert.equal(await page.locator("li.empty").textContent(), "No todos yet. Add one above.");
    for (let i = 1; i <= 7; i++) await addTodo(page, `Task ${i}`);
    assert.deepEqual(await titles(page), ["Task 7", "Task 6", "Task 5", "Task 4", "Task 3"]);
    assert.equal(await summary(page), "7 todos left (7 in all)");
    assert.equal(await listHeading(page), "All todos, page 1 of 2");
    await eventually(async () => assert.match(await announcements(page), /Added “Task 7”\./));

    // The whole list is read across the service's pages (4 + 3).
    calls.length = 0;
    await page.reload();
    await signedInAs(page, username);
    assert.equal(calls.filter((c) => c.method === "ListTodos" && c.grpc === 0).length, 2, JSON.stringify(calls));

    // Next page: the URL says so, focus goes to the list's heading, a reload keeps it.
    assert.equal(await page.getByRole("button", { name: "Previous page" }).isDisabled(), true);
    await page.getByRole("button", { name: "Next page" }).click();
    await eventually(async () => assert.deepEqual(await titles(page), ["Task 2", "Task 1"]));
    assert.equal(new URL(page.url()).search, "?page=2");
    await assertFocus(page, "list-heading", "after paging");
    assert.equal(await listHeading(page), "All todos, page 2 of 2");
    assert.equal(await page.locator("#page-status").textContent(), "Page 2 of 2");
    await page.reload();
    await signedInAs(page, username);
    assert.deepEqual(await titles(page), ["Task 2", "Task 1"]);
    await page.getByRole("button", { name: "Previous page" }).click();
    await eventually(async () =>
      assert.deepEqual(await titles(page), ["Task 7", "Task 6", "Task 5", "Task 4", "Task 3"]),
    );
    assert.equal(new URL(page.url()).search, "");

    // A tick shows before the server has answered (the call is held here).
    let release;
    const held = new Promise((r) => {
      release = r;
    });
    await page.route("**/todo.v1.TodoService/UpdateTodo", async (route) => {
      await held;
      await route.continue();
    });
    const box = page.getByRole("checkbox", { name: "Task 6" });
    await box.check();
    assert.equal(await box.isChecked(), true, "ticked at once");
    assert.equal(await summary(page), "6 todos left, 1 done (7 in all)");
    await assertFocus(page, /^done-/, "focus stays on the checkbox");
    release();
    await page.waitForResponse("**/todo.v1.TodoService/UpdateTodo");
    await page.unroute("**/todo.v1.TodoService/UpdateTodo");
    await eventually(async () => assert.match(await item(page, "Task 6").getAttribute("class"), /\bdone\b/));

    // Filters: links with the filter in the URL; focus stays on the chosen one.
    await page.getByRole("link", { name: "Open (6)" }).click();
    await eventually(async () =>
      assert.deepEqual(await titles(page), ["Task 7", "Task 5", "Task 4", "Task 3", "Task 2"]),
    );
    assert.equal(new URL(page.url()).search, "?filter=open");
    assert.equal(await page.getByRole("link", { name: "Open (6)" }).getAttribute("aria-current"), "page");
    await assertFocus(page, /Open \(6\)/, "focus stays on the filter");
    await page.getByRole("link", { name: "Done (1)" }).click();
    await eventually(async () => assert.deepEqual(await titles(page), ["Task 6"]));
    // Unticked in "Done", it stays in view (with the focus on it) until the view changes.
    await page.getByRole("checkbox", { name: "Task 6" }).uncheck();
    await eventually(async () => assert.equal(await summary(page), "7 todos left (7 in all)"));
    assert.deepEqual(await titles(page), ["Task 6"]);
    await assertFocus(page, /^done-/, "focus stays on the unticked checkbox");
    // Back goes to the previous place.
    await page.goBack();
    await eventually(async () => assert.equal(new URL(page.url()).search, "?filter=open"));
    await eventually(async () =>
      assert.deepEqual(await titles(page), ["Task 7", "Task 6", "Task 5", "Task 4", "Task 3"]),
    );
    assert.equal(await listHeading(page), "Open todos, page 1 of 2");
    await assertNoProblems(page);
  } finally {
    await context.close();
  }
});

test("edit in place: save, cancel and Escape keep focus; errors are in words, on their field", async () => {
  const { context, page, calls } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    await register(page, uniqueName("edie"));
    await addTodo(page, "Task A", "first details");

    // The add form is labelled by visible labels, not by placeholders.
    for (const name of ["Title", "Details (optional)"]) {
      const field = page.getByLabel(name, { exact: true });
      assert.equal(await field.getAttribute("placeholder"), null, `${name} has no placeholder`);
      assert.equal(await page.locator("label", { hasText: name }).first().isVisible(), true);
    }

    await page.getByRole("button", { name: "Edit Task A" }).click();
    const editor = page.locator("li.editing");
    await assertFocus(page, /^edit-title-/, "editing starts in the title");
    await editor.getByLabel("Title").fill("Buy milk");
    await editor.getByLabel("Details").fill("two litres\nsemi-skimmed");
    await editor.getByRole("button", { name: "Save" }).click();
    await item(page, "Buy milk").waitFor();
    assert.equal(await item(page, "Buy milk").locator(".description").textContent(), "two litres\nsemi-skimmed");
    await assertFocus(page, /Edit Buy milk/, "after saving, focus is on the item's Edit button");
    await eventually(async () => assert.ok(calls.some((c) => c.method === "UpdateTodo" && c.grpc === 0)));

    // Escape and Cancel leave it as it was, focus back on Edit.
    await page.getByRole("button", { name: "Edit Buy milk" }).click();
    await editor.getByLabel("Title").fill("Not this");
    await page.keyboard.press("Escape");
    await item(page, "Buy milk").waitFor();
    await assertFocus(page, /Edit Buy milk/, "after Escape");
    await page.getByRole("button", { name: "Edit Buy milk" }).click();
    await editor.getByRole("button", { name: "Cancel" }).click();
    await assertFocus(page, /Edit Buy milk/, "after Cancel");

    // An empty title: the error is on the field, in words, and focus goes there.
    await page.getByRole("button", { name: "Edit Buy milk" }).click();
    await editor.getByLabel("Title").fill("   ");
    await editor.getByRole("button", { name: "Save" }).click();
    const title = editor.getByLabel("Title");
    await eventually(async () => assert.equal(await title.getAttribute("aria-invalid"), "true"));
    const errorId = (await title.getAttribute("aria-describedby")).split(" ")[0];
    assert.equal(await page.locator(`#${errorId}`).textContent(), "Enter a title.");
    assert.doesNotMatch(await editor.textContent(), /Todo\.title|todo\.title/);
    await assertFocus(page, /^edit-title-/, "focus on the field in error");
    await editor.getByRole("button", { name: "Cancel" }).click();

    // A 201-character title is refused, not cut to 200, and nothing is sent.
    const long = "x".repeat(201);
    await page.getByLabel("Title", { exact: true }).fill(long);
    assert.equal((await page.getByLabel("Title", { exact: true }).inputValue()).length, 201, "not cut");
    const field = page.getByLabel("Title", { exact: true });
    await eventually(async () => assert.equal(await field.getAttribute("aria-invalid"), "true"));
    assert.match(
      await page.locator("#new-title-error").textContent(),
      /^Title is 201 characters, 1 over the limit of 200\.$/,
    );
    assert.match(await page.locator("#new-title-count").textContent(), /201 of 200 characters: 1 too many/);
    const creates = calls.filter((c) => c.method === "CreateTodo").length;
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await assertFocus(page, "new-title", "focus on the title in error");
    assert.equal(calls.filter((c) => c.method === "CreateTodo").length, creates, "nothing was sent");
    await field.fill("y".repeat(200));
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await item(page, "y".repeat(200)).waitFor();
    await assertFocus(page, "new-title", "after adding, focus stays in the title");
  } finally {
    await context.close();
  }
});

test("delete and clear completed can be undone; the delete is sent when the undo window ends", async () => {
  const { context, page, calls } = await openPage(shared.browser, shared.stack.pageUrl);
  const deletes = () => calls.filter((c) => c.method === "DeleteTodo").length;
  try {
    const username = uniqueName("dora");
    await register(page, username);
    for (const t of ["One", "Two", "Three", "Four"]) await addTodo(page, t);

    // Delete: the row becomes "Deleted … Undo", with focus on Undo; nothing is sent yet.
    await page.getByRole("button", { name: "Delete Two" }).click();
    await page.locator("#todo-list li.deleted", { hasText: "Deleted “Two”." }).waitFor();
    await assertFocus(page, /^undo-/, "focus on Undo");
    assert.equal(await summary(page), "3 todos left (3 in all)");
    // While focus is on Undo the window waits.
    await page.waitForTimeout(UNDO_MS + 1000);
    assert.equal(deletes(), 0, "no delete sent while Undo has focus");
    await page.getByRole("button", { name: "Undo delete of Two" }).click();
    await item(page, "Two").waitFor();
    await assertFocus(page, /^done-/, "after Undo, focus is on the restored todo");
    await eventually(async () => assert.match(await announcements(page), /Restored “Two”\./));
    assert.deepEqual(await titles(page), ["Four", "Three", "Two", "One"]);
    assert.equal(deletes(), 0);

    // Delete again and move on: the delete goes out after the window.
    await page.getByRole("button", { name: "Delete Two" }).click();
    await assertFocus(page, /^undo-/, "focus on Undo");
    await page.keyboard.press("Tab");
    await eventually(async () => assert.equal(deletes(), 1), UNDO_MS + 5000);
    await eventually(async () =>
      assert.equal(await page.locator("#todo-list li.deleted", { hasText: "Deleted “Two”." }).count(), 0),
    );
    await page.reload();
    await signedInAs(page, username);
    assert.deepEqual(await titles(page), ["Four", "Three", "One"]);

    // Clear completed, undo, clear again.
    await page.getByRole("checkbox", { name: "Four" }).check();
    await page.getByRole("checkbox", { name: "One" }).check();
    await eventually(async () => assert.equal(await summary(page), "1 todo left, 2 done (3 in all)"));
    await page.getByRole("button", { name: "Clear completed (2)" }).click();
    await page.locator("#clear-undo-bar", { hasText: "Cleared 2 completed todos." }).waitFor();
    await assertFocus(page, "undo-clear", "focus on the clear's Undo");
    assert.deepEqual(await titles(page), ["Three"]);
    await page.locator("#undo-clear").click();
    await eventually(async () => assert.deepEqual(await titles(page), ["Four", "Three", "One"]));
    await assertFocus(page, "list-heading", "after undoing the clear");
    await page.getByRole("button", { name: "Clear completed (2)" }).click();
    await assertFocus(page, "undo-clear", "focus on the clear's Undo");
    await page.keyboard.press("Tab");
    await eventually(async () => assert.equal(deletes(), 3), UNDO_MS + 5000);
    await page.reload();
    await signedInAs(page, username);
    assert.deepEqual(await titles(page), ["Three"]);
    assert.equal(await summary(page), "1 todo left (1 in all)");
    assert.equal(await page.getByRole("button", { name: /Clear completed/ }).count(), 0);
    await assertNoProblems(page);
  } finally {
    await context.close();
  }
});
