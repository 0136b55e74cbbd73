// Real Kafka clients against the capture server, whose every answer comes from
// the protocol/kafka encoders: kcat lists metadata, produces and consumes its
// own records back, and joins a group; kafkajs and @platformatic/kafka run
// their admin, producer and consumer-group scenarios. Each would fail on a
// response it could not parse (librdkafka logs PROTOERR and retries, so the
// deadline fails the test). This checks the response codecs against real
// clients, not the broker.

import { afterEach, beforeEach, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { type KafkaCapture, startKafkaCapture } from "./support/kafka_capture.ts";
import { CLIENTS, SCENARIO_TIMEOUT_MS, withTimeout } from "./support/kafka_client_scenarios.ts";

const KCAT_TIMEOUT_MS = 20_000;

function kcat(args: string[], input: string | null): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn("kcat", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    if (input !== null) p.stdin.write(input);
    p.stdin.end();
    const timer = setTimeout(() => p.kill("SIGKILL"), KCAT_TIMEOUT_MS);
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let cap: KafkaCapture;
beforeEach(async () => {
  cap = await startKafkaCapture();
});
afterEach(async () => {
  await cap.close();
});

test("kcat -L reads our ApiVersions v3 and Metadata answers", async () => {
  const r = await kcat(["-b", `127.0.0.1:${cap.port}`, "-L"], null);
  expect(r.stderr).not.toContain("PROTOERR");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`broker 1 at 127.0.0.1:${cap.port}`);
  expect(r.stdout).toContain('topic "capture" with 1 partitions');
});

test("kcat produces (zstd) and reads its batch back through our Produce, ListOffsets and Fetch answers", async () => {
  const value = "sluice ".repeat(30);
  const p = await kcat(["-b", `127.0.0.1:${cap.port}`, "-P", "-t", "capture", "-K:", "-z", "zstd"], `k1:${value}\nk2:${value}\n`);
  expect(p.stderr).toBe("");
  expect(p.code).toBe(0);
  const c = await kcat(["-b", `127.0.0.1:${cap.port}`, "-C", "-t", "capture", "-o", "beginning", "-e", "-f", "%k=%s\\n"], null);
  expect(c.stderr).not.toContain("PROTOERR");
  expect(c.code).toBe(0);
  expect(c.stdout.split("\n").filter((l) => l !== "")).toEqual([`k1=${value}`, `k2=${value}`]);
  expect(cap.frames.every((f) => f.error === null)).toBe(true);
});

test("kcat -G joins a group through our FindCoordinator, JoinGroup, SyncGroup and OffsetFetch answers", async () => {
  const r = await kcat(["-b", `127.0.0.1:${cap.port}`, "-G", "g1", "-e", "capture"], null);
  expect(r.stderr).not.toContain("PROTOERR");
  expect(r.code).toBe(0);
  expect(r.stderr).toContain("assigned: capture [0]");
});

// kafkajs 2.2.4 (classic versions) and @platformatic/kafka (flexible versions):
// the admin calls, a producer, and a consumer group member that receives the
// record and commits, all answered by our encoders.
for (const client of ["kafkajs", "platformatic"] as const) {
  for (const scenario of CLIENTS[client].scenarios) {
    test(`${client} ${scenario.name} completes against our encoders`, async () => {
      await withTimeout(scenario.run(cap.port), SCENARIO_TIMEOUT_MS, `${client} ${scenario.name}`);
      expect(cap.frames.filter((f) => f.error !== null).map((f) => f.error)).toEqual([]);
      expect(cap.frames.length).toBeGreaterThan(2);
    }, SCENARIO_TIMEOUT_MS + 5_000);
  }
}
