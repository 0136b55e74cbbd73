// The single-file binary (`npm run build:binary`: scripts/build_binary.ts,
// `bun build --compile` with every worker entry as an extra entrypoint and the
// web console bundled in). Built once, by the script package.json runs (so
// what is tested is what users build), into a temp dir, then copied to
// another temp dir with no node_modules and no source beside it, and run from
// there: serve on port 0, the web console and its API over HTTP (and the page
// in headless Chromium), topics, produce (compressed), consume (by partition
// and in a group), groups, and a small bench whose broker is the binary
// itself. The broker is stopped by its PID.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { bundleConsole } from "../engine/http/console_bundle.ts";
import { PREBUILT_CONSOLE } from "../engine/http/console_prebuilt.ts";
import { BINARY_ENTRYPOINTS } from "../scripts/build_binary.ts";

const ROOT = path.resolve(import.meta.dir, "..");
const BUN = path.join(ROOT, "node_modules", ".bin", "bun");
const BUILD_TIMEOUT_MS = 120_000;
const COMMAND_TIMEOUT_MS = 30_000;
const READY_LINE = /sluice listening on ([\d.]+):(\d+) \(kafka (\d+), http (\d+)\)/;
const COMMANDS = ["serve", "topics", "produce", "consume", "groups", "bench", "cluster", "dev", "partitions"];
const CHROMIUM = "/usr/bin/chromium";
/** Where the program's own code lives (what the binary is built from); tests and test helpers aside. */
const PROGRAM_DIRS = ["cli", "engine", "workers", "protocol", "client", "runtime", "bench"];

let buildDir: string;
let runDir: string;
let binary: string;
let dataDir: string;
let server: ChildProcess | undefined;
let serverExit: Promise<number | null> | undefined;
let broker: string[];
let httpBase: string;

/** Runs the binary with `args` in the run dir (no node_modules there), stdin from `stdin`. */
/** The program's source files (not tests, not test helpers under testing/). */
function programSources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "testing" && entry.name !== "node_modules") out.push(...programSources(full));
    } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) out.push(full);
  }
  return out;
}

function sluice(args: string[], stdin = "") {
  const run = spawnSync(binary, args, {
    cwd: runDir,
    input: stdin,
    encoding: "utf8",
    timeout: COMMAND_TIMEOUT_MS,
    // Nothing from the source tree: no NODE_PATH, a PATH without node_modules/.bin.
    env: { PATH: "/usr/bin:/bin", HOME: runDir, TMPDIR: os.tmpdir() },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  buildDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-binary-build-"));
  runDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-binary-run-"));
  dataDir = path.join(runDir, "data");
  const script = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts["build:binary"] as string;
  expect(script).toBe("bun scripts/build_binary.ts");
  const args = [...script.split(" ").slice(1), "--outfile", path.join(buildDir, "sluice")];
  const build = spawnSync(BUN, args, { cwd: ROOT, encoding: "utf8", timeout: BUILD_TIMEOUT_MS });
  if (build.status !== 0) throw new Error(`build failed (${build.status}): ${build.stderr}`);
  binary = path.join(runDir, "sluice");
  fs.copyFileSync(path.join(buildDir, "sluice"), binary);
  fs.chmodSync(binary, 0o755);
  fs.rmSync(buildDir, { recursive: true, force: true });

  const child = spawn(binary, ["serve", "--port", "0", "--kafka-port", "0", "--http-port", "0", "--data-dir", dataDir], {
    cwd: runDir,
    env: { PATH: "/usr/bin:/bin", HOME: runDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server = child;
  serverExit = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  let out = "";
  const ready = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the binary's broker was not ready in time; output:\n${out}`)), COMMAND_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = READY_LINE.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    void serverExit!.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the binary's broker exited (${code}) before it was ready; output:\n${out}`));
    });
  });
  broker = ["--broker", `127.0.0.1:${ready[2]}`];
  httpBase = `http://127.0.0.1:${ready[4]}`;
}, BUILD_TIMEOUT_MS + COMMAND_TIMEOUT_MS);

afterAll(async () => {
  if (server?.pid !== undefined && server.exitCode === null) {
    process.kill(server.pid, "SIGKILL");
    await serverExit;
  }
  if (runDir !== undefined) fs.rmSync(runDir, { recursive: true, force: true });
});

describe("what the binary is built from", () => {
  test("every file the program runs as a worker thread is an entrypoint of the compile, and every entrypoint exists", () => {
    // A worker entry is missing from the binary unless it is an entrypoint: the binary then fails only when it starts that worker.
    const workerEntry = /^self\.onmessage\s*=|^import\s*\{[^}]*\bparentPort\b[^}]*\}\s*from\s*"node:worker_threads"/m;
    const entries = PROGRAM_DIRS.flatMap((d) => programSources(path.join(ROOT, d)))
      .filter((f) => workerEntry.test(fs.readFileSync(f, "utf8")))
      .map((f) => path.relative(ROOT, f));
    expect(entries).toContain("workers/worker_main.ts");
    expect(entries).toContain("bench/load/producer_worker.ts");
    expect(entries.sort()).toEqual(BINARY_ENTRYPOINTS.slice(1).sort());
    // Where the program looks for them in the binary's file system names an entrypoint.
    const inBinary = PROGRAM_DIRS.flatMap((d) => programSources(path.join(ROOT, d))).flatMap((f) =>
      [...fs.readFileSync(f, "utf8").matchAll(/"\/\$bunfs\/root\/([^"]+)"/g)].map((m) => m[1]),
    );
    expect(inBinary.length).toBeGreaterThanOrEqual(3);
    for (const p of inBinary) expect(BINARY_ENTRYPOINTS as readonly string[]).toContain(p);
    expect(BINARY_ENTRYPOINTS[0]).toBe("cli/main.ts");
    for (const e of BINARY_ENTRYPOINTS) expect({ e, exists: fs.existsSync(path.join(ROOT, e)) }).toEqual({ e, exists: true });
  });

  test("the source tree bundles the console on first request: the build replaced nothing on disk", () => {
    expect(PREBUILT_CONSOLE).toBeNull();
  });
});

describe("dist/sluice, run where there is no node_modules", () => {
  test("the run dir holds the binary alone (and the broker's data)", () => {
    expect(fs.readdirSync(runDir).sort()).toEqual(["data", "sluice"]);
  });

  test("--help lists every command, and every command answers --help", () => {
    const top = sluice(["--help"]);
    expect(top.code).toBe(0);
    const listed = top.stdout.split("commands:")[1]?.split("\n\n")[0]?.trim().split(/\s+/) ?? [];
    expect(listed.sort()).toEqual([...COMMANDS].sort());
    for (const command of COMMANDS) {
      const r = sluice([command, "--help"]);
      expect({ command, code: r.code }).toEqual({ command, code: 0 });
      expect(r.stdout).toMatch(/usage:\s+sluice /);
    }
  });

  test("topics create/list/describe, produce with lz4 and zstd, consume by partition and in a group, groups list/describe", () => {
    expect(sluice(["topics", "create", "orders", "--partitions", "2", ...broker]).stdout).toContain("created topic orders with 2 partition(s)");
    expect(sluice(["topics", "list", ...broker]).stdout).toContain("orders");
    const lines = Array.from({ length: 200 }, (_, i) => `user-${i % 9}:order ${i} shipped to warehouse ${i % 4}`);
    for (const compression of ["lz4", "zstd"]) {
      const produced = sluice(["produce", "orders", "--key-separator", ":", "--compression", compression, ...broker], `${lines.join("\n")}\n`);
      expect({ compression, code: produced.code, stderr: produced.stderr }).toEqual({ compression, code: 0, stderr: "" });
      expect(produced.stdout.trim()).toBe("200 message(s) acked (orders)");
    }
    const consumed = sluice(["consume", "orders", "--from", "beginning", "--max-messages", "400", "--format", "json", ...broker]);
    expect(consumed.code).toBe(0);
    const records = consumed.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(records.length).toBe(400);
    const want = lines.map((l) => l.slice(l.indexOf(":") + 1));
    expect(records.map((r) => r.value).sort()).toEqual([...want, ...want].sort());

    const described = sluice(["topics", "describe", "orders", ...broker]);
    expect(described.stdout).toContain("topic orders: 2 partition(s)");
    expect(described.stdout).toMatch(/\n0\s+0\s+\d+/);

    const grouped = sluice(["consume", "orders", "--group", "billing", "--from", "beginning", "--max-messages", "400", ...broker]);
    expect(grouped.code).toBe(0);
    expect(grouped.stdout.trim().split("\n").length).toBe(400);
    expect(sluice(["groups", "list", ...broker]).stdout).toContain("billing");
    expect(sluice(["groups", "describe", "billing", ...broker]).code).toBe(0);
  });

  test("the web console: the page, its bundle as console/ bundles now, and the API, served by the binary", async () => {
    const page = await fetch(`${httpBase}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    const html = await page.text();
    expect(html).toContain("<title>Sluice console</title>");
    const scripts = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]);
    const styles = [...html.matchAll(/<link rel="stylesheet" href="([^"]+)"/g)].map((m) => m[1]);
    expect(scripts).toEqual(["/assets/main.js"]);
    expect(styles).toEqual(["/assets/main.css"]);

    // The bytes the source tree bundles from console/ now (Bun's bundler is deterministic), page and assets.
    const fromSource = await bundleConsole();
    expect(html).toBe(new TextDecoder().decode(fromSource.page.bytes));
    for (const asset of [...scripts, ...styles]) {
      const res = await fetch(`${httpBase}${asset}`, { headers: { "accept-encoding": "identity" } });
      expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
      const bytes = new Uint8Array(await res.arrayBuffer());
      const want = fromSource.assets.find((f) => `/assets/${f.name}` === asset);
      expect(want).toBeDefined();
      expect(Buffer.compare(bytes, want!.bytes)).toBe(0);
    }
    const js = await (await fetch(`${httpBase}/assets/main.js`)).text(); // gzip, as a browser asks
    expect(js.length).toBeGreaterThan(50_000); // Preact, htm, uPlot and the pages
    expect(js).toContain("topics-table");
    expect(js).toContain("/api/v1/events");

    const overview = await fetch(`${httpBase}/api/v1/overview`);
    expect(overview.status).toBe(200);
    const body = (await overview.json()) as { broker: { version: string }; topics: { name: string; partitions: number }[] };
    expect(body.broker.version).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version);
    expect(body.topics.find((t) => t.name === "orders")?.partitions).toBe(2);
    const unknown = await fetch(`${httpBase}/api/v1/topics/nowhere`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain("nowhere");
  });

  test("the web console in headless Chromium: the overview shows the topic the binary holds", async () => {
    expect(fs.existsSync(CHROMIUM)).toBe(true);
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-binary-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const tab = context.pages()[0] ?? (await context.newPage());
      const errors: string[] = [];
      tab.on("pageerror", (e) => errors.push(e.message));
      await tab.goto(`${httpBase}/`);
      const row = tab.locator(`[data-testid=topics-table] tr[data-topic="orders"]`);
      await row.waitFor({ timeout: COMMAND_TIMEOUT_MS });
      const cells = await row.locator("td").allTextContents();
      expect(cells[1]).toBe("2");
      expect(cells[2]).toBe("400");
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  }, 60_000);

  test("bench: load threads and an embedded broker that is the binary itself", () => {
    const r = sluice(["bench", "e2e", "--embedded", "--messages", "2000", "--partitions", "2", "--compression", "snappy", "--json"]);
    if (r.code !== 0) console.error(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout.trimEnd().split("\n").pop()!);
    expect(result).toMatchObject({ sent: 2000, acked: 2000, consumed: 2000, lost: 0, corrupt: 0 });
    expect(fs.existsSync(result.embeddedDataDir)).toBe(false);
  }, 60_000);

  test("the broker stops cleanly on SIGTERM to its PID", async () => {
    process.kill(server!.pid!, "SIGTERM");
    expect(await serverExit).toBe(0);
  });
});
