// Account self-service against the real pair (all-in-one), mail read from its
// mail folder: confirming an address, changing it and resending, forgotten
// password, changing the password, sessions and security history, deleting the
// account, the login lock-out, and registration errors on their fields.

import assert from "node:assert/strict";
import { test } from "node:test";
import { sharedStack, waitForMailLink } from "./harness.mjs";
import {
  addTodo,
  announcements,
  apiLogin,
  assertFocus,
  atScreen,
  eventually,
  logIn,
  openPage,
  PASSWORD,
  register,
  signedInAs,
  titles,
  uniqueName,
} from "./helpers.mjs";

const shared = sharedStack({ name: "account", accessTokenTtl: "15m" });

const goToAccount = async (page) => {
  await page.getByRole("link", { name: "Account" }).click();
  await atScreen(page, "Your account");
  await assertFocus(page, "main-heading", "arriving at the account page");
};

/** The error tied to a field (by its label, or "#id"): aria-invalid, and aria-describedby's first id. */
async function fieldError(page, label) {
  const field = label.startsWith("#") ? page.locator(label) : page.getByLabel(label, { exact: true });
  await eventually(async () => assert.equal(await field.getAttribute("aria-invalid"), "true", `${label} is invalid`));
  const ids = (await field.getAttribute("aria-describedby")).split(" ");
  return page.locator(`#${ids[0]}`).textContent();
}

test("register with an email, confirm it from the mailed link; the link works once", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("vera");
    const email = `${username}@example.com`;
    await register(page, username, { email });
    assert.match(await page.locator("#welcome-notice").textContent(), new RegExp(`We sent a link to ${email}`));
    await goToAccount(page);
    assert.match(await page.getByTestId("account-email").textContent(), /Not confirmed yet/);

    const link = await waitForMailLink(shared.stack.mailDir, email, /Verify your email/);
    assert.ok(link.startsWith(`${shared.stack.pageOrigin}/verify-email?token=`), link);
    await page.goto(link);
    await atScreen(page, "Email address confirmed");
    assert.doesNotMatch(page.url(), /token=/, "the token is taken out of the address");
    await page.getByRole("link", { name: "Go to your list" }).click();
    await signedInAs(page, username);
    await goToAccount(page);
    assert.match(await page.getByTestId("account-email").textContent(), /Confirmed/);

    await page.goto(link);
    await atScreen(page, "We couldn't confirm your email address");
    assert.match(
      await page.locator("main").textContent(),
      /This link has expired or was already used\. Ask for a new one\./,
    );
  } finally {
    await context.close();
  }
});

test("change the email address (password checked), resend the confirmation, confirm the newest link", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("walt");
    await register(page, username);
    await goToAccount(page);
    assert.equal(await page.getByTestId("account-email").textContent(), "None");
    const email = `${username}@example.net`;
    await page.getByLabel("New email address").fill(email);
    await page.locator("#email-password").fill("wrong password here");
    await page.getByRole("button", { name: "Change email address" }).click();
    assert.equal(await fieldError(page, "#email-password"), "Password is not right.");
    await assertFocus(page, "email-password", "focus on the password in error");

    await page.locator("#email-password").fill(PASSWORD);
    await page.getByRole("button", { name: "Change email address" }).click();
    await page.locator("#email-done").waitFor();
    await assertFocus(page, "email-done", "focus on the result");
    await eventually(async () =>
      assert.match(await page.getByTestId("account-email").textContent(), /Not confirmed yet/),
    );
    await waitForMailLink(shared.stack.mailDir, email, /Verify your email/);

    await page.getByRole("button", { name: "Send a new confirmation link" }).click();
    await eventually(async () =>
      assert.equal(await page.locator("#resend-status").textContent(), `We sent a new link to ${email}.`),
    );
    const newest = await waitForMailLink(shared.stack.mailDir, email, /Verify your email/, { after: 1 });
    await page.goto(newest);
    await atScreen(page, "Email address confirmed");
  } finally {
    await context.close();
  }
});

test("forgot password: the mailed link sets a new one, ends every session, and works once", async () => {
  const owner = await openPage(shared.browser, shared.stack.pageUrl);
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("xena");
    const email = `${username}@example.org`;
    await register(owner.page, username, { email });
    await addTodo(owner.page, "Kept through the reset");

    await page.getByRole("link", { name: "Forgot your password?" }).click();
    await atScreen(page, "Forgot your password?");
    await page.getByRole("button", { name: "Send reset link" }).click();
    assert.equal(await fieldError(page, "Email address"), "Enter an email address.");
    await page.getByLabel("Email address").fill(email);
    await page.getByRole("button", { name: "Send reset link" }).click();
    await atScreen(page, "Check your email");
    await assertFocus(page, "main-heading", "focus on the result");

    const link = await waitForMailLink(shared.stack.mailDir, email, /Reset your password/);
    assert.ok(link.startsWith(`${shared.stack.pageOrigin}/reset-password?token=`), link);
    await page.goto(link);
    await atScreen(page, "Set a new password");
    assert.doesNotMatch(page.url(), /token=/);
    await page.getByLabel("New password").fill("short");
    await page.getByRole("button", { name: "Set new password" }).click();
    assert.match(await fieldError(page, "New password"), /at least 8 characters/);
    const newPassword = "a brand new passphrase";
    await page.getByLabel("New password").fill(newPassword);
    await page.getByRole("button", { name: "Set new password" }).click();
    await atScreen(page, "Password changed");
    await page.getByRole("link", { name: "Log in with your new password" }).click();
    await logIn(page, username, newPassword);
    await signedInAs(page, username);
    assert.deepEqual(await titles(page), ["Kept through the reset"]);

    // Every other session ended: the owner's page is sent to log in.
    await owner.page.reload();
    await atScreen(owner.page, "Log in");

    // The link works once.
    const again = await openPage(shared.browser, link);
    try {
      await atScreen(again.page, "Set a new password");
      await again.page.getByLabel("New password").fill("yet another passphrase");
      await again.page.getByRole("button", { name: "Set new password" }).click();
      await eventually(async () =>
        assert.equal(
          await again.page.locator("#reset-error").textContent(),
          "This link has expired or was already used. Ask for a new one.",
        ),
      );
      await again.page.getByRole("link", { name: "Ask for a new link" }).waitFor();
    } finally {
      await again.context.close();
    }
  } finally {
    await owner.context.close();
    await context.close();
  }
});

test("change the password: this device stays logged in, the others are logged out", async () => {
  const a = await openPage(shared.browser, shared.stack.pageUrl);
  const b = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("yuri");
    await register(a.page, username);
    await b.page.waitForLoadState();
    await logIn(b.page, username);
    await signedInAs(b.page, username);

    await goToAccount(a.page);
    const page = a.page;
    await page.getByLabel("Current password").fill("not my password");
    await page.getByLabel("New password").fill("an entirely new one");
    await page.getByRole("button", { name: "Change password" }).click();
    assert.equal(await fieldError(page, "Current password"), "Current password is not right.");
    await assertFocus(page, "password-current", "focus on the current password");

    await page.getByLabel("Current password").fill(PASSWORD);
    await page.getByRole("button", { name: "Change password" }).click();
    await page.locator("#password-done").waitFor();
    await assertFocus(page, "password-done", "focus on the result");
    await page.reload();
    await atScreen(page, "Your account");

    await b.page.reload();
    await atScreen(b.page, "Log in");
    await logIn(b.page, username, PASSWORD);
    await eventually(async () =>
      assert.equal(await b.page.locator("#login-error").textContent(), "Wrong username or password."),
    );
    await logIn(b.page, username, "an entirely new one");
    await signedInAs(b.page, username);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test("sessions: this device is marked, another can be ended; the security history shows what happened", async () => {
  const a = await openPage(shared.browser, shared.stack.pageUrl);
  const b = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("zoe");
    await register(a.page, username);
    await logIn(b.page, username);
    await signedInAs(b.page, username);
    // Enough history for more than one page of it (10 a page): logins from elsewhere.
    for (let i = 0; i < 10; i++) await apiLogin(shared.stack, username, PASSWORD, { "user-agent": "grpc-node-js/1.0" });

    const page = a.page;
    await goToAccount(page);
    const sessions = page.getByTestId("session");
    await eventually(async () => assert.equal(await sessions.count(), 12));
    assert.equal(await page.locator(".session.current").count(), 1);
    assert.match(await page.locator(".session.current").textContent(), /This device/);
    assert.match(await page.locator(".session.current").textContent(), /Chrome on Linux/);

    // End B's session (the newest browser session that is not this one).
    const other = page.locator(".session:not(.current)", { hasText: "Chrome on Linux" });
    await other.getByRole("button", { name: /^End session of Chrome on Linux/ }).click();
    await eventually(async () => assert.equal(await sessions.count(), 11));
    await assertFocus(page, "sessions-heading", "focus on the sessions' heading");
    await eventually(async () => assert.match(await announcements(page), /Ended the session of Chrome on Linux/));
    await b.page.reload();
    await atScreen(b.page, "Log in");

    // History: newest first, in words, ten at a time.
    await page.reload();
    await atScreen(page, "Your account");
    const events = page.locator(".events li");
    await eventually(async () => assert.equal(await events.count(), 10));
    assert.equal((await events.first().locator("strong").textContent()).trim(), "A session was ended");
    await page.getByRole("button", { name: "Show older events" }).click();
    await eventually(async () => assert.ok((await events.count()) > 10));
    await assertFocus(page, /^event-/, "focus on the first older event");
    assert.equal((await events.last().locator("strong").textContent()).trim(), "Account created");
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test("delete the account: the password first, then a clear confirmation", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("ada");
    await register(page, username);
    await addTodo(page, "One");
    await addTodo(page, "Two");
    await goToAccount(page);

    await page.getByRole("button", { name: "Continue to delete…" }).click();
    assert.equal(await fieldError(page, "#delete-password"), "Enter your password.");
    await page.locator("#delete-password").fill("not the password");
    await page.getByRole("button", { name: "Continue to delete…" }).click();
    await assertFocus(page, "delete-confirm-text", "focus on the confirmation");
    assert.match(
      await page.locator("#delete-confirm-text").textContent(),
      new RegExp(`Delete the account “${username}” and its 2 todos\\?.*cannot be undone`),
    );
    await page.getByRole("button", { name: "Delete my account for good" }).click();
    // The wrong password takes it back to the first step, the error on the field.
    assert.equal(await fieldError(page, "#delete-password"), "Password is not right.");
    await assertFocus(page, "delete-password", "focus on the password");

    await page.locator("#delete-password").fill(PASSWORD);
    await page.getByRole("button", { name: "Continue to delete…" }).click();
    await page.getByRole("button", { name: "Keep my account" }).click();
    await assertFocus(page, "delete-password", "keeping goes back to the password");
    await page.getByRole("button", { name: "Continue to delete…" }).click();
    await page.getByRole("button", { name: "Delete my account for good" }).click();
    await atScreen(page, "Log in");
    assert.equal(
      await page.locator("#auth-notice").textContent(),
      "Your account and everything in it has been deleted.",
    );

    await logIn(page, username);
    await eventually(async () =>
      assert.equal(await page.locator("#login-error").textContent(), "Wrong username or password."),
    );
    // The name is free again, and the new account starts empty.
    await register(page, username);
    assert.equal(await page.locator("li.empty").textContent(), "No todos yet. Add one above.");
  } finally {
    await context.close();
  }
});

test("a lock-out counts down from the server's RetryInfo, with the button disabled until it ends", async () => {
  const { context, page, calls } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const username = uniqueName("lock");
    // The stack allows 3 failures and locks for 4 s; a name with no account is
    // counted like any other.
    for (let i = 0; i < 3; i++) {
      await logIn(page, username, `wrong ${i}`);
      await eventually(async () =>
        assert.equal(await page.locator("#login-error").textContent(), "Wrong username or password."),
      );
      await page.locator("#login-error").evaluate((el) => {
        el.textContent = "";
      });
    }
    await logIn(page, username, "wrong again");
    const button = page.getByRole("button", { name: "Log in" });
    await eventually(async () =>
      assert.match(
        await page.locator("#login-error").textContent(),
        /^Too many attempts\. Try again in \d seconds?\.$/,
      ),
    );
    assert.equal(await button.getAttribute("aria-disabled"), "true");
    await assertFocus(page, "login-error", "focus on the lock-out message");
    const firstCount = Number((await page.locator("#login-error").textContent()).match(/in (\d+)/)[1]);
    assert.ok(firstCount >= 2 && firstCount <= 4, `counts from the server's delay: ${firstCount}`);
    await eventually(async () => {
      const now = Number((await page.locator("#login-error").textContent()).match(/in (\d+)/)?.[1] ?? 0);
      assert.ok(now < firstCount, `counts down: ${now}`);
    });
    // Pressing the disabled button sends nothing.
    const logins = calls.filter((c) => c.method === "Login").length;
    await button.click();
    assert.equal(calls.filter((c) => c.method === "Login").length, logins);

    await eventually(async () => assert.equal(await button.getAttribute("aria-disabled"), null), 8000);
    await eventually(async () => assert.match(await announcements(page), /You can try again now/));
  } finally {
    await context.close();
  }
});

test("registration errors are on their own fields, with focus there", async () => {
  const { context, page } = await openPage(shared.browser, shared.stack.pageUrl);
  try {
    const taken = uniqueName("taken");
    await register(page, taken);
    await page.getByRole("button", { name: "Log out" }).click();
    await atScreen(page, "Log in");
    await page.getByRole("link", { name: "Create one" }).click();
    await atScreen(page, "Create an account");

    await page.getByLabel("Username").fill(taken.toUpperCase());
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    assert.equal(await fieldError(page, "Username"), "That username is taken. Try another.");
    await assertFocus(page, "register-username", "a username error focuses the username");
    assert.equal(await page.getByLabel("Password", { exact: true }).getAttribute("aria-invalid"), null);

    await page.getByLabel("Username").fill(uniqueName("fresh"));
    await page.getByLabel("Password", { exact: true }).fill("short");
    await page.getByLabel("Email address (optional)").fill("not-an-address");
    await page.getByRole("button", { name: "Create account" }).click();
    assert.match(await fieldError(page, "Password"), /at least 8 characters/);
    assert.equal(await fieldError(page, "Email address (optional)"), "Enter an email address like name@example.com.");
    await assertFocus(page, "register-password", "the first field in error has focus");
  } finally {
    await context.close();
  }
});
