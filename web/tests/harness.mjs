// Test harness: serves dist/ on a random port, starts the real services
// (target/debug/all-in-one) on random ports with a temp data dir, and launches
// Debian's Chromium through playwright-core. Everything listens on 127.0.0.1 and
// every URL the browser uses is on localhost or 127.0.0.1.

import { spawn } from "node:child_process";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { grpcWebCall } from "./grpcweb.mjs";

const here = dirname(fileURLToPath(import.meta.url));
export const webDir = resolve(here, "..");
export const artifactsDir = resolve(process.env.ARTIFACTS_DIR ?? join(webDir, "artifacts"));
const distDir = resolve(process.env.DIST_DIR ?? join(webDir, "dist"));
const serviceBin = resolve(process.env.ALL_IN_ONE_BIN ?? join(webDir, "..", "target", "debug", "all-in-one"));
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
 * The same server is reachable as http://localhost:PORT (the allowed origin) and
 * http://127.0.0.1:PORT (another origin, not allowed).
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
    if (path.endsWith("/")) path += "index.html";
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

/**
 * Starts all-in-one on random free ports (chosen here and passed explicitly, since
 * the todo-service is also told where the auth-service is); tries again with other
 * ports if one was taken in between. Resolves once both addresses are printed.
 */
async function startServices(options) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServicesOnce({ ...options, authPort: await freePort(), todoPort: await freePort() });
    } catch (e) {
      if (attempt >= 3 || !e.exitedEarly) throw e;
    }
  }
}

async function startServicesOnce({ allowedOrigins, accessTokenTtl, dataDir, logFile, authPort, todoPort }) {
  if (!existsSync(serviceBin)) {
    throw new Error(`${serviceBin} is missing: run \`cargo build -p all-in-one\` first`);
  }
  const child = spawn(
    serviceBin,
    ["--auth-addr", `127.0.0.1:${authPort}`, "--todo-addr", `127.0.0.1:${todoPort}`, "--data-dir", dataDir],
    {
      env: {
        ...process.env,
        CORS_ALLOWED_ORIGINS: allowedOrigins.join(","),
        ACCESS_TOKEN_TTL: accessTokenTtl,
        JWT_SECRET: randomBytes(48).toString("base64url"),
        SHUTDOWN_GRACE: "1s",
        NO_COLOR: "1",
        RUST_LOG: process.env.RUST_LOG ?? "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  // Never leave the services running if this process ends without `stop()`.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  const log = createWriteStream(logFile, { flags: "a" });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });

  let out = "";
  const addrs = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`all-in-one did not print its addresses in 60 s:\n${out}`)), 60_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const auth = out.match(/auth-service\s+(\S+:\d+)/);
      const todo = out.match(/todo-service\s+(\S+:\d+)/);
      if (auth && todo) {
        clearTimeout(timer);
        ok({ auth: auth[1], todo: todo[1] });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      const err = new Error(`all-in-one exited with ${code} before it was ready; see ${logFile}`);
      err.exitedEarly = true;
      fail(err);
    });
  });
  const port = (addr) => Number(addr.slice(addr.lastIndexOf(":") + 1));
  return { child, log, authPort: port(addrs.auth), todoPort: port(addrs.todo) };
}

/** Polls a real gRPC-Web call (health check) until it answers SERVING, or 30 s pass. */
async function waitUntilServing(baseUrl) {
  const deadline = Date.now() + 30_000;
  let last;
  while (Date.now() < deadline) {
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
 * ACCESS_TOKEN_TTL. Only http://localhost:<page port> is an allowed origin.
 */
export async function startStack({ accessTokenTtl = "5s", pageSize = 5 } = {}) {
  mkdirSync(artifactsDir, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), "todo-grpc-web-test-"));
  let config = null;
  const page = await startStaticServer(() => config);
  const pageUrl = `http://localhost:${page.port}/`;
  const otherOriginUrl = `http://127.0.0.1:${page.port}/`;
  const logFile = join(artifactsDir, "services.log");
  writeFileSync(logFile, "");
  let services;
  try {
    services = await startServices({
      allowedOrigins: [`http://localhost:${page.port}`],
      accessTokenTtl,
      dataDir,
      logFile,
    });
  } catch (e) {
    page.server.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const authUrl = `http://localhost:${services.authPort}`;
  const todoUrl = `http://localhost:${services.todoPort}`;
  config = { authUrl, todoUrl, pageSize };
  // The harness itself calls 127.0.0.1 (Node may resolve localhost to ::1 first).
  const authDirect = `http://127.0.0.1:${services.authPort}`;
  const todoDirect = `http://127.0.0.1:${services.todoPort}`;
  await Promise.all([waitUntilServing(authDirect), waitUntilServing(todoDirect)]);

  return {
    pageUrl,
    otherOriginUrl,
    pageOrigin: `http://localhost:${page.port}`,
    authUrl,
    todoUrl,
    authDirect,
    todoDirect,
    async stop() {
      page.server.closeAllConnections?.();
      page.server.close();
      const { child } = services;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((ok) => child.once("exit", ok));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      services.log.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
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
