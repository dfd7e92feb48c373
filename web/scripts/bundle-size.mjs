// Prints the gzipped size of what a browser downloads (dist/'s JavaScript, CSS and
// HTML, not the source maps) and fails when it passes the budget: 150 KB (KiB).
//
// Usage: node scripts/bundle-size.mjs [--budget-kb N]

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const dist = fileURLToPath(new URL("../dist", import.meta.url));
const at = process.argv.indexOf("--budget-kb");
const budgetKb = at > 0 ? Number(process.argv[at + 1]) : 150;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const shipped = files(dist).filter((f) => /\.(js|css|html)$/.test(f));
if (shipped.length === 0) {
  console.error("bundle-size: dist/ is empty; run `npm run build` first");
  process.exit(1);
}
let total = 0;
for (const file of shipped.sort()) {
  const raw = readFileSync(file);
  const gz = gzipSync(raw, { level: 9 }).length;
  total += gz;
  console.log(
    `  ${relative(dist, file).padEnd(40)} ${(raw.length / 1024).toFixed(1).padStart(8)} KB  ${(gz / 1024).toFixed(1).padStart(7)} KB gzipped`,
  );
}
const kb = total / 1024;
const ok = kb <= budgetKb;
console.log(`bundle: ${kb.toFixed(1)} KB gzipped in all (budget ${budgetKb} KB): ${ok ? "within" : "OVER"}`);
process.exit(ok ? 0 : 1);
