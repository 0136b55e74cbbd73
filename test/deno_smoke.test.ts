// The client under Deno (deno from the npm registry, pinned in package.json):
// test/support/client_smoke.mjs imports client/mod.ts and does a produce +
// consume round trip against a real broker, over node:net.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startBroker, type BrokerProcess } from "./support/broker.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DENO = path.join(ROOT, "node_modules", ".bin", "deno");

let broker: BrokerProcess;
beforeAll(async () => {
  broker = await startBroker();
});
afterAll(async () => {
  await broker?.stop();
});

test("a produce + consume round trip under deno run -A", () => {
  const result = spawnSync(
    DENO,
    ["run", "-A", "--no-lock", "test/support/client_smoke.mjs", "../../client/mod.ts", `127.0.0.1:${broker.port}`, "deno-smoke"],
    { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } },
  );
  if (result.status !== 0) throw new Error(`deno exited with ${result.status}: ${result.stderr}\n${result.stdout}`);
  const summary = JSON.parse(result.stdout.trim().split("\n").pop()!);
  expect(summary).toEqual({
    runtime: "deno",
    transport: "node",
    produced: 200,
    consumed: 200,
    compressed: { gzip: 50, snappy: 50, lz4: 50, zstd: 50 },
    zstdRead: null,
    ok: true,
  });
}, 60_000);
