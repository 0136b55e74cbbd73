// The single-file binary (`npm run build:binary`: `bun build --compile`, with
// every worker entry as an extra entrypoint). Built once, from the script in
// package.json (so the list of entrypoints tested is the one users build
// with), into a temp dir, then copied to another temp dir with no
// node_modules and no source beside it, and run from there: serve on port 0,
// topics, produce (compressed), consume (by partition and in a group),
// groups, and a small bench whose broker is the binary itself. The broker is
// stopped by its PID.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dir, "..");
const BUN = path.join(ROOT, "node_modules", ".bin", "bun");
const BUILD_TIMEOUT_MS = 120_000;
const COMMAND_TIMEOUT_MS = 30_000;
const READY_LINE = /sluice listening on ([\d.]+):(\d+) \(http (\d+)\)/;

let buildDir: string;
let runDir: string;
let binary: string;
let dataDir: string;
let server: ChildProcess | undefined;
let serverExit: Promise<number | null> | undefined;
let broker: string[];

/** Runs the binary with `args` in the run dir (no node_modules there), stdin from `stdin`. */
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
  expect(script).toStartWith("bun build --compile ");
  expect(script).toEndWith(" --outfile dist/sluice");
  const args = script.slice("bun ".length).replace("--outfile dist/sluice", `--outfile ${path.join(buildDir, "sluice")}`).split(" ");
  const build = spawnSync(BUN, args, { cwd: ROOT, encoding: "utf8", timeout: BUILD_TIMEOUT_MS });
  if (build.status !== 0) throw new Error(`build failed (${build.status}): ${build.stderr}`);
  binary = path.join(runDir, "sluice");
  fs.copyFileSync(path.join(buildDir, "sluice"), binary);
  fs.chmodSync(binary, 0o755);
  fs.rmSync(buildDir, { recursive: true, force: true });

  const child = spawn(binary, ["serve", "--port", "0", "--http-port", "0", "--data-dir", dataDir], {
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
}, BUILD_TIMEOUT_MS + COMMAND_TIMEOUT_MS);

afterAll(async () => {
  if (server?.pid !== undefined && server.exitCode === null) {
    process.kill(server.pid, "SIGKILL");
    await serverExit;
  }
  if (runDir !== undefined) fs.rmSync(runDir, { recursive: true, force: true });
});

describe("dist/sluice, run where there is no node_modules", () => {
  test("the run dir holds the binary alone (and the broker's data)", () => {
    expect(fs.readdirSync(runDir).sort()).toEqual(["data", "sluice"]);
  });

  test("every command answers --help", () => {
    for (const command of ["serve", "topics", "produce", "consume", "groups", "bench"]) {
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
