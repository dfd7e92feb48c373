// Test harness: serves dist/ on a random port (index.html for every app route),
// starts the real services on random ports with a temp data dir, and launches
// Debian's Chromium through playwright-core. Everything listens on 127.0.0.1 and
// every URL the browser uses is on localhost or 127.0.0.1.
//
// Two ways to run the services:
// - `startStack()`: the all-in-one binary (both services in one process), as a
//   developer runs them; mail lands in <data dir>/mail.
// - `startStack({ split: true })`: auth-service and todo-service as two processes on
//   one data dir, so a test can stop one (SIGTERM) and start it again on its port.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { grpcWebCall } from "./grpcweb.mjs";

const here = dirname(fileURLToPath(import.meta.url));
export const webDir = resolve(here, "..");
export const artifactsDir = resolve(process.env.ARTIFACTS_DIR ?? join(webDir, "artifacts"));
const distDir = resolve(process.env.DIST_DIR ?? join(webDir, "dist"));
const allInOneBin = resolve(process.env.ALL_IN_ONE_BIN ?? join(webDir, "..", "target", "debug", "all-in-one"));
// The single services default to the all-in-one's folder (target/debug after
// `cargo build --workspace --bins`, as .ci/run does).
const authBin = resolve(process.env.AUTH_SERVICE_BIN ?? join(dirname(allInOneBin), "auth-service"));
const todoBin = resolve(process.env.TODO_SERVICE_BIN ?? join(dirname(allInOneBin), "todo-service"));
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/**
 * Serves dist/ on 127.0.0.1 at a random port, plus `/config.json` from `getConfig()`.
 * A path without a file extension is an app route: index.html. The server is
 * reachable as http://localhost:PORT (the allowed origin) and http://127.0.0.1:PORT
 * (another origin, not allowed).
 */
async function startStaticServer(getConfig) {
  if (!existsSync(join(distDir, "index.html"))) {
    throw new Error(`${distDir}/index.html is missing: run \`npm run build\` first`);
  }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/config.json") {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(getConfig()));
      return;
    }
    let path = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, "");
    if (path.endsWith("/") || extname(path) === "") path = "/index.html";
    const file = join(distDir, path);
    if (!file.startsWith(distDir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
      return;
    }
    res.writeHead(200, {
      "content-type": types[extname(file)] ?? "application/octet-stream",
      "cache-control": "no-store",
    });
    createReadStream(file).pipe(res);
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", ok);
  });
  return { server, port: server.address().port };
}

/** A port that was free a moment ago (the OS picks it). */
async function freePort() {
  const server = createNetServer();
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", ok);
  });
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Starts a binary with its output appended to `log`; killed if this process exits. */
function run(bin, args, env, log) {
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: run \`cargo build --workspace --bins\` first`);
  }
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  return child;
}

async function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once("exit", ok));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Polls a real gRPC-Web call (health check) until it answers SERVING, or 30 s pass. */
export async function waitUntilServing(baseUrl, child) {
  const deadline = Date.now() + 30_000;
  let last;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${baseUrl}: the service exited with ${child.exitCode}`);
    try {
      const r = await grpcWebCall(baseUrl, "/grpc.health.v1.Health/Check");
      // HealthCheckResponse.status = 1 (SERVING) encodes as 08 01.
      if (r.status === 0 && r.message && r.message.equals(Buffer.from([0x08, 0x01]))) return;
      last = `status ${r.status} ${r.grpcMessage}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${baseUrl} not serving after 30 s: ${last}`);
}

/**
 * Starts the page server and the services. `accessTokenTtl` is the services'
 * ACCESS_TOKEN_TTL; `config` goes into the page's config.json. Only
 * http://localhost:<page port> is an allowed origin. Limits meant for the public
 * (registrations and mails per address) are raised, since every test comes from
 * 127.0.0.1; the login lock-out is made short (3 failures, 4 s) so it can be seen
 * ending.
 */
export async function startStack({
  accessTokenTtl = "5s",
  config: pageConfig = {},
  split = false,
  name = "stack",
} = {}) {
  mkdirSync(artifactsDir, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), "todo-grpc-web-test-"));
  const mailDir = join(dataDir, "mail");
  let config = null;
  const page = await startStaticServer(() => config);
  const pageOrigin = `http://localhost:${page.port}`;
  const logFile = join(artifactsDir, `services-${name}.log`);
  writeFileSync(logFile, "");
  const log = createWriteStream(logFile, { flags: "a" });
  const authPort = await freePort();
  const todoPort = await freePort();
  const env = {
    CORS_ALLOWED_ORIGINS: pageOrigin,
    ACCESS_TOKEN_TTL: accessTokenTtl,
    JWT_SECRET: randomBytes(48).toString("base64url"),
    SHUTDOWN_GRACE: "1s",
    NO_COLOR: "1",
    RUST_LOG: process.env.RUST_LOG ?? "info",
    REGISTER_MAX_PER_ADDRESS: "10000",
    EMAIL_MAX_PER_HOUR: "100",
    EMAIL_MAX_PER_HOUR_PER_ADDRESS: "10000",
    LOGIN_MAX_FAILURES: "3",
    LOGIN_MAX_FAILURES_PER_ADDRESS: "1000",
    LOGIN_LOCKOUT: "4s",
    VERIFY_EMAIL_URL: `${pageOrigin}/verify-email?token={token}`,
    RESET_PASSWORD_URL: `${pageOrigin}/reset-password?token={token}`,
  };
  const authDirect = `http://127.0.0.1:${authPort}`;
  const todoDirect = `http://127.0.0.1:${todoPort}`;
  const children = {};
  const starters = split
    ? {
        auth: () =>
          run(
            authBin,
            ["--listen-addr", `127.0.0.1:${authPort}`, "--database-url", `sqlite://${join(dataDir, "auth.db")}`],
            { ...env, MAIL_OUTBOX_DIR: mailDir },
            log,
          ),
        todo: () =>
          run(
            todoBin,
            [
              "--listen-addr",
              `127.0.0.1:${todoPort}`,
              "--database-url",
              `sqlite://${join(dataDir, "todo.db")}`,
              "--auth-service-url",
              `http://127.0.0.1:${authPort}`,
            ],
            env,
            log,
          ),
      }
    : {
        both: () =>
          run(
            allInOneBin,
            ["--auth-addr", `127.0.0.1:${authPort}`, "--todo-addr", `127.0.0.1:${todoPort}`, "--data-dir", dataDir],
            env,
            log,
          ),
      };
  const directOf = { auth: authDirect, todo: todoDirect };
  try {
    if (split) {
      children.auth = starters.auth();
      await waitUntilServing(authDirect, children.auth);
      children.todo = starters.todo();
      await waitUntilServing(todoDirect, children.todo);
    } else {
      children.both = starters.both();
      await Promise.all([waitUntilServing(authDirect, children.both), waitUntilServing(todoDirect, children.both)]);
    }
  } catch (e) {
    for (const c of Object.values(children)) await stopChild(c);
    page.server.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const authUrl = `http://localhost:${authPort}`;
  const todoUrl = `http://localhost:${todoPort}`;
  // Small pages, quick retries and a short undo window keep the tests quick.
  config = { authUrl, todoUrl, pageSize: 5, fetchPageSize: 4, undoMs: 2500, retryBaseMs: 200, ...pageConfig };

  return {
    pageUrl: `${pageOrigin}/`,
    otherOriginUrl: `http://127.0.0.1:${page.port}/`,
    pageOrigin,
    authUrl,
    todoUrl,
    authDirect,
    todoDirect,
    dataDir,
    mailDir,
    /** Stops one service (split stacks only) with SIGTERM. */
    async stopService(which) {
      if (!split) throw new Error("stopService needs startStack({ split: true })");
      await stopChild(children[which]);
    },
    /** Starts a stopped service again on its port and waits until it serves. */
    async startService(which) {
      if (!split) throw new Error("startService needs startStack({ split: true })");
      children[which] = starters[which]();
      await waitUntilServing(directOf[which], children[which]);
    },
    async stop() {
      page.server.closeAllConnections?.();
      page.server.close();
      for (const c of Object.values(children)) await stopChild(c);
      log.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The mails in the folder, oldest first: { to, subject, body, link }. */
export function readMails(mailDir) {
  if (!existsSync(mailDir)) return [];
  return readdirSync(mailDir)
    .filter((f) => f.endsWith(".eml"))
    .map((f) => {
      const path = join(mailDir, f);
      return { path, mtime: statSync(path).mtimeMs, raw: readFileSync(path, "utf8") };
    })
    .sort((a, b) => a.mtime - b.mtime)
    .map(({ raw }) => {
      const [head, ...rest] = raw.split(/\r?\n\r?\n/);
      const headers = {};
      for (const line of head.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
        const at = line.indexOf(":");
        if (at > 0) headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
      }
      let body = rest.join("\n\n");
      if (/quoted-printable/i.test(headers["content-transfer-encoding"] ?? "")) {
        body = body
          .replace(/=\r?\n/g, "")
          .replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(Number.parseInt(h, 16)));
      } else if (/base64/i.test(headers["content-transfer-encoding"] ?? "")) {
        body = Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
      }
      const link = body.match(/https?:\/\/\S+/)?.[0] ?? null;
      return { to: headers.to ?? "", subject: headers.subject ?? "", body, link };
    });
}

/** Waits for a mail to `address` whose subject matches, and returns its link. */
export async function waitForMailLink(mailDir, address, subject, { after = 0, timeout = 15_000 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const mails = readMails(mailDir).filter((m) => m.to.includes(address) && subject.test(m.subject));
    if (mails.length > after) return mails[mails.length - 1].link;
    if (Date.now() > deadline) throw new Error(`no mail to ${address} matching ${subject} in ${mailDir}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Launches Debian's Chromium (never a downloaded browser) headless. */
export async function launchBrowser() {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: apt-get install -y chromium`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // playwright-core gives every launch a fresh temporary profile (user-data dir).
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Belt and braces: no name resolves except the loopback ones.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    ],
  });
}

/**
 * One stack (startStack's options) and one browser for a whole test file: started
 * before its first test and stopped after its last. Read them as `.stack` and
 * `.browser` inside the tests.
 */
export function sharedStack(options) {
  const shared = { stack: undefined, browser: undefined };
  before(async () => {
    shared.stack = await startStack(options);
    shared.browser = await launchBrowser();
  });
  after(async () => {
    await shared.browser?.close();
    await shared.stack?.stop();
  });
  return shared;
}
