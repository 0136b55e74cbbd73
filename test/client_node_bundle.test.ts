// The client on Node 20+: `bun build client/mod.ts --target node` (what
// `npm run build:client` does) makes one ES module; test/support/client_smoke.mjs
// imports it under `node` and does a produce + consume round trip against a
// real broker.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startBroker, type BrokerProcess } from "./support/broker.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUN = path.join(ROOT, "node_modules", ".bin", "bun");

let broker: BrokerProcess;
let outDir: string;
beforeAll(async () => {
  broker = await startBroker();
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-bundle-"));
});
afterAll(async () => {
  await broker?.stop();
  fs.rmSync(outDir, { recursive: true, force: true });
});

test("the node bundle does a produce + consume round trip under node", () => {
  const build = spawnSync(BUN, ["build", "client/mod.ts", "--target", "node", "--outdir", outDir], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  if (build.status !== 0) throw new Error(`bun build failed: ${build.stderr}`);
  const bundle = path.join(outDir, "mod.js");
  expect(fs.existsSync(bundle)).toBe(true);
  // The bundle must not need Bun: no bun: imports.
  expect(fs.readFileSync(bundle, "utf8")).not.toMatch(/from\s+["']bun["']|require\(["']bun["']\)/);

  const run = spawnSync(
    "node",
    [path.join(ROOT, "test", "support", "client_smoke.mjs"), pathToFileURL(bundle).href, `127.0.0.1:${broker.port}`, "node-smoke"],
    { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
  );
  if (run.status !== 0) throw new Error(`node exited with ${run.status}: ${run.stderr}\n${run.stdout}`);
  const summary = JSON.parse(run.stdout.trim().split("\n").pop()!);
  expect(summary).toEqual({ runtime: "node", transport: "node", produced: 200, consumed: 200, ok: true });
}, 60_000);
