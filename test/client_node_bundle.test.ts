// The client on Node 20+: `bun build client/mod.ts --target node` (what
// `npm run build:client` does) makes one ES module; test/support/client_smoke.mjs
// imports it under `node` and does a produce + consume round trip against a
// real broker, including a compressed round trip per codec (Node 20 has no
// zstd in node:zlib: it reads zstd with the portable decoder and refuses to
// write it).

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Producer, zstdCompressionAvailable } from "../client/mod.ts";
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

test("the node bundle does a produce + consume round trip under node", async () => {
  // Records written with zstd by this runtime, for the node client to read.
  const line = (i: number) => `2026-12-06T15:20:${String(i % 60).padStart(2, "0")}.000Z INFO [orders] request ${i} completed in ${i % 17} ms`;
  const zstd = new Producer({ broker: `127.0.0.1:${broker.port}`, compression: "zstd", lingerMs: 20 });
  await Promise.all(Array.from({ length: 50 }, (_, i) => zstd.send("zstd-from-bun", { value: line(i), partition: 0 })));
  await zstd.close();

  const build = spawnSync(BUN, ["build", "client/mod.ts", "--target", "node", "--outdir", outDir], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  if (build.status !== 0) throw new Error(`bun build failed: ${build.stderr}`);
  const bundle = path.join(outDir, "mod.js");
  expect(fs.existsSync(bundle)).toBe(true);
  // The bundle must not need Bun: no bun: imports.
  expect(fs.readFileSync(bundle, "utf8")).not.toMatch(/from\s+["']bun["']|require\(["']bun["']\)/);

  const run = spawnSync(
    "node",
    [path.join(ROOT, "test", "support", "client_smoke.mjs"), pathToFileURL(bundle).href, `127.0.0.1:${broker.port}`, "node-smoke", "zstd-from-bun"],
    { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
  );
  if (run.status !== 0) throw new Error(`node exited with ${run.status}: ${run.stderr}\n${run.stdout}`);
  const summary = JSON.parse(run.stdout.trim().split("\n").pop()!);
  // Node 22.15+ has zstd in node:zlib; Node 20 (the oldest supported) does not.
  const nodeHasZstd = spawnSync("node", ["-e", "process.stdout.write(String(typeof require('node:zlib').zstdCompressSync === 'function'))"], { encoding: "utf8" }).stdout === "true";
  expect(zstdCompressionAvailable).toBe(true); // this runtime (Bun)
  expect(summary).toEqual({
    runtime: "node",
    transport: "node",
    produced: 200,
    consumed: 200,
    compressed: { gzip: 50, snappy: 50, lz4: 50, zstd: nodeHasZstd ? 50 : "unsupported" },
    zstdRead: 50,
    ok: true,
  });
}, 60_000);
