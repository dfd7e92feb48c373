// Screenshots of the main screens at 1280 and 375 px for web/README.md, taken from
// the built page against the real services (the browser tests' harness): run
// `npm run build`, then `ALL_IN_ONE_BIN=... npm run screenshots`. Writes
// docs/screenshots/<screen>-<width>.png.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchBrowser, startStack } from "../tests/harness.mjs";
import { addTodo, atScreen, openPage, register } from "../tests/helpers.mjs";

const out = fileURLToPath(new URL("../docs/screenshots", import.meta.url));
mkdirSync(out, { recursive: true });

const stack = await startStack({ name: "screenshots", accessTokenTtl: "15m", config: { pageSize: 6 } });
const browser = await launchBrowser();
const sizes = [
  { width: 1280, height: 800 },
  { width: 375, height: 812 },
];
try {
  const { context, page } = await openPage(browser, stack.pageUrl, { viewport: sizes[0] });
  const shoot = async (name, { fullPage = false } = {}) => {
    for (const size of sizes) {
      await page.setViewportSize(size);
      await page.waitForTimeout(150);
      const path = join(out, `${name}-${size.width}.png`);
      await page.screenshot({ path, fullPage });
      console.log(`screenshots: ${path}`);
    }
    await page.setViewportSize(sizes[0]);
  };

  await atScreen(page, "Log in");
  await shoot("login");

  await register(page, "alice", { email: "alice@example.com" });
  await page.getByRole("button", { name: "Dismiss" }).click();
  const todos = [
    ["Renew passport", "Photos first: the booth at the station takes cards."],
    ["Book dentist", ""],
    ["Water the plants", ""],
    ["Call the bank about the new card", ""],
    ["Buy milk", "Two litres, semi-skimmed"],
    ["Write the quarterly report", "Numbers from finance by Thursday"],
    ["Return library books", ""],
  ];
  for (const [title, details] of todos.reverse()) await addTodo(page, title, details);
  await page.getByRole("checkbox", { name: "Write the quarterly report" }).check();
  await page.getByRole("checkbox", { name: "Buy milk" }).check();
  await page.locator("#main-heading").focus();
  await page.evaluate(() => window.scrollTo(0, 0));
  await shoot("list", { fullPage: true });

  await page.getByRole("button", { name: "Edit Water the plants" }).click();
  await page.locator("li.editing input").first().fill("Water the plants (and the balcony ones)");
  await shoot("editing");
  await page.keyboard.press("Escape");

  await page.getByRole("button", { name: "Delete Book dentist" }).click();
  await page.locator("li.deleted").waitFor();
  await shoot("undo");
  await page.getByRole("button", { name: "Undo delete of Book dentist" }).click();

  await page.getByRole("link", { name: "Account" }).click();
  await atScreen(page, "Your account");
  await page.getByTestId("session").first().waitFor();
  await shoot("account");

  await page.emulateMedia({ colorScheme: "dark" });
  await page.getByRole("link", { name: "List" }).click();
  await atScreen(page, "Your todos");
  await page.waitForTimeout(300);
  await shoot("list-dark");
  await context.close();
} finally {
  await browser.close();
  await stack.stop();
}
