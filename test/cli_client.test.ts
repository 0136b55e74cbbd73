// The path a new user follows in docs/CLIENT.md, with real processes: a
// broker, `sluice topics create`, `sluice produce` from stdin, `sluice consume
// --from beginning --max-messages N`, `sluice topics describe`, `--json`
// output that parses, and the error conventions (one line, exit codes, stack
// only with --verbose).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startBroker, type BrokerProcess } from "./support/broker.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUN = path.join(ROOT, "node_modules", ".bin", "bun");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sluice ARGS` (through `bun cli/main.ts`, or the npm bin shim under node) with `stdin`. */
function sluice(args: string[], options: { stdin?: string; shim?: boolean; timeoutMs?: number } = {}): Promise<Run> {
  const [cmd, cmdArgs] = options.shim ? ["node", [path.join(ROOT, "cli", "sluice.js"), ...args]] : [BUN, [path.join(ROOT, "cli", "main.ts"), ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs as string[], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, SLUICE_BROKER: "" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`sluice ${args.join(" ")} did not exit in time; stderr: ${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? "");
  });
}

let broker: BrokerProcess;
let b: string[];

beforeAll(async () => {
  broker = await startBroker();
  b = ["--broker", `127.0.0.1:${broker.port}`];
});

afterAll(async () => {
  await broker?.stop();
});

describe("the quick start", () => {
  test("create, produce from stdin, consume from the beginning, describe", async () => {
    const created = await sluice(["topics", "create", "orders", "--partitions", "3", "--config", "retention.ms=86400000", ...b]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("created topic orders with 3 partition(s)");

    const lines = Array.from({ length: 30 }, (_, i) => `user-${i % 5}:order ${i}`);
    const produced = await sluice(["produce", "orders", "--key-separator", ":", ...b], { stdin: `${lines.join("\n")}\n` });
    expect(produced.code).toBe(0);
    expect(produced.stdout.trim()).toBe("30 message(s) acked (orders)");
    expect(produced.stderr).toBe(""); // no progress line when stderr is not a terminal

    const consumed = await sluice(["consume", "orders", "--from", "beginning", "--max-messages", "30", ...b]);
    expect(consumed.code).toBe(0);
    const values = consumed.stdout.trim().split("\n");
    expect(values.length).toBe(30);
    expect(new Set(values)).toEqual(new Set(lines.map((l) => l.slice(l.indexOf(":") + 1))));

    const described = await sluice(["topics", "describe", "orders", ...b]);
    expect(described.code).toBe(0);
    expect(described.stdout).toContain("topic orders: 3 partition(s)");
    expect(described.stdout).toMatch(/PARTITION\s+LOG-START\s+HIGH-WATER\s+MESSAGES\s+SIZE\s+SEGMENTS\s+MSG\/S\s+BYTES\/S\s+SHARE\s+ONLINE/);
    expect(described.stdout).toContain("retention.ms=86400000");
  });

  test("--json output parses: topics list, topics describe, produce, consume", async () => {
    await sluice(["topics", "create", "jsonic", "--partitions", "2", ...b]);
    const listed = await sluice(["topics", "list", "--json", ...b]);
    expect(JSON.parse(listed.stdout)).toContain("jsonic");

    const produced = await sluice(["produce", "jsonic", "--json", "--acks", "1", ...b], { stdin: "one\ntwo\nthree\n" });
    expect(JSON.parse(produced.stdout)).toMatchObject({ topic: "jsonic", sent: 3, acked: 3, failed: 0 });

    const described = JSON.parse((await sluice(["topics", "describe", "jsonic", "--json", ...b])).stdout);
    expect(described.name).toBe("jsonic");
    expect(described.partitions.length).toBe(2);
    expect(described.partitions.reduce((n: number, p: { highWatermark: number }) => n + p.highWatermark, 0)).toBe(3);
    expect(typeof described.partitions[0].messagesInPerSec).toBe("number");

    const consumed = await sluice(["consume", "jsonic", "--from", "beginning", "--max-messages", "3", "--json", ...b]);
    const records = consumed.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(records.map((r) => r.value).sort()).toEqual(["one", "three", "two"]);
    for (const r of records) expect(r).toMatchObject({ topic: "jsonic", key: null, headers: [] });
  });

  test("consume --partition, --from OFFSET and --timeout-ms exit without more data", async () => {
    await sluice(["topics", "create", "numbers", "--partitions", "1", ...b]);
    await sluice(["produce", "numbers", ...b], { stdin: Array.from({ length: 10 }, (_, i) => String(i)).join("\n") + "\n" });
    const started = Date.now();
    const consumed = await sluice(["consume", "numbers", "--partition", "0", "--from", "7", "--timeout-ms", "500", ...b]);
    expect(consumed.code).toBe(0);
    expect(consumed.stdout).toBe("7\n8\n9\n");
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });

  test("consume piped into head exits once head has what it wants (the reader's EPIPE ends it)", async () => {
    await sluice(["topics", "create", "piped", "--partitions", "1", ...b]);
    const lines = Array.from({ length: 100_000 }, (_, i) => String(i)).join("\n") + "\n";
    expect((await sluice(["produce", "piped", ...b], { stdin: lines, timeoutMs: 60_000 })).code).toBe(0);
    // No --max-messages and no --timeout-ms: only the closed pipe can stop it.
    const script = `'${BUN}' '${path.join(ROOT, "cli", "main.ts")}' consume piped --from beginning ${b.join(" ")} | head -n 2`;
    const started = Date.now();
    const run = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      // Its own process group, so a hang can be ended with both sides of the pipe.
      const child = spawn("bash", ["-c", script], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"], detached: true });
      let stdout = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      const timer = setTimeout(() => {
        process.kill(-child.pid!, "SIGKILL");
        reject(new Error("consume | head did not exit"));
      }, 15_000);
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout });
      });
    });
    expect(run.stdout).toBe("0\n1\n");
    expect(run.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 90_000);

  test("topics alter and topics config change the topic; the broker validates configs", async () => {
    await sluice(["topics", "create", "tuned", "--partitions", "1", ...b]);
    expect((await sluice(["topics", "alter", "tuned", "--partitions", "4", ...b])).code).toBe(0);
    const set = await sluice(["topics", "config", "tuned", "--set", "retention.ms=3600000", ...b]);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain("retention.ms=3600000");
    const described = JSON.parse((await sluice(["topics", "describe", "tuned", "--json", ...b])).stdout);
    expect(described.partitions.length).toBe(4);
    expect(described.configs["retention.ms"]).toBe("3600000");

    const bad = await sluice(["topics", "config", "tuned", "--set", "retention.ms=soon", ...b]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n").length).toBe(1);
    expect(bad.stderr).toContain("INVALID_CONFIG");
  });

  test("topics delete removes the topic", async () => {
    await sluice(["topics", "create", "doomed", ...b]);
    expect((await sluice(["topics", "delete", "doomed", ...b])).code).toBe(0);
    expect(JSON.parse((await sluice(["topics", "list", "--json", ...b])).stdout)).not.toContain("doomed");
  });
});

describe("errors and help", () => {
  test("a failure is one line on stderr and exit 1; --verbose adds the stack", async () => {
    await sluice(["topics", "create", "twice", ...b]);
    const again = await sluice(["topics", "create", "twice", ...b]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split("\n")).toEqual([expect.stringContaining("TOPIC_ALREADY_EXISTS")]);
    expect(again.stderr.startsWith("sluice topics: ")).toBe(true);

    const verbose = await sluice(["topics", "create", "twice", "--verbose", ...b]);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr.split("\n").length).toBeGreaterThan(3);
    expect(verbose.stderr).toContain("    at ");
  });

  test("an unreachable broker is reported in one line within seconds", async () => {
    const started = Date.now();
    const r = await sluice(["topics", "list", "--broker", "127.0.0.1:1"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").length).toBe(1);
    expect(r.stderr).toContain("NETWORK_EXCEPTION");
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test("usage mistakes exit 2; --help on each command exits 0", async () => {
    const unknownFlag = await sluice(["produce", "t", "--bogus", ...b]);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain("--bogus");
    expect((await sluice(["consume", "t", "--from", "yesterday", ...b])).code).toBe(2);
    expect((await sluice(["topics", "alter", "t", ...b])).code).toBe(2);
    for (const command of ["topics", "produce", "consume"]) {
      const help = await sluice([command, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`usage: sluice ${command}`);
      expect(help.stdout).toContain("--broker");
    }
  });

  test("a produce line without the key separator stops with exit 2 after sending the lines before it", async () => {
    await sluice(["topics", "create", "strict", ...b]);
    const r = await sluice(["produce", "strict", "--key-separator", "=", ...b], { stdin: "a=1\nno separator\nb=2\n" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("line 2 has no key separator");
    const consumed = await sluice(["consume", "strict", "--from", "beginning", "--timeout-ms", "300", "--json", ...b]);
    expect(consumed.stdout.trim().split("\n").map((l) => JSON.parse(l).value)).toEqual(["1"]);
  });

  test("the npm bin shim (node cli/sluice.js) runs the same commands", async () => {
    const r = await sluice(["topics", "list", "--json", ...b], { shim: true });
    expect(r.code).toBe(0);
    expect(Array.isArray(JSON.parse(r.stdout))).toBe(true);
  });
});
