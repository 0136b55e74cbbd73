// Starts a real broker process (`bun cli/main.ts serve`) for integration
// tests: ports 0 (native, Kafka, HTTP), a temp data dir, a deadline on the ready line.
//
//   const b = await startBroker();              // own temp dir, removed by stop()
//   ... talk to 127.0.0.1:b.port / b.httpPort ...
//   expect(await b.stop()).toBe(0);             // SIGTERM, waits for the exit code
//
// Crash tests: kill9() leaves the data dir in place so a second broker can
// recover it: `const b2 = await startBroker({ dataDir: b.dataDir })`; then
// `await b.cleanup()` removes the dir the first one created.
// Every broker still running when the test process exits is killed.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const BUN = path.join(REPO_ROOT, "node_modules", ".bin", "bun");
/** "sluice listening on HOST:PORT (kafka KAFKA_PORT, http HTTP_PORT)"; the kafka part is absent when that listener is off. */
const READY_LINE = /sluice listening on ([^\s:]+):(\d+) \((?:kafka (\d+), )?http (\d+)\)/;
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;
/** Output kept per broker (the tail), for failure messages. */
const OUTPUT_BYTES_MAX = 1024 * 1024;

export interface BrokerProcess {
  readonly port: number;
  /** The Kafka listener's port (0 was asked for, so a free one); null when `--kafka-port -1` turned it off. */
  readonly kafkaPort: number | null;
  readonly httpPort: number;
  readonly dataDir: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Sends the signal (default SIGTERM) and resolves with the exit code; removes the data dir if startBroker made it. */
  stop(signal?: "SIGTERM" | "SIGINT"): Promise<number>;
  /** SIGKILL; resolves once the process is gone. Leaves the data dir. */
  kill9(): Promise<void>;
  /** Everything the broker wrote to stdout and stderr so far (the last MiB). */
  output(): string;
  /** Kills the process if it still runs and removes the data dir if startBroker made it. */
  cleanup(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of running) {
    try {
      p.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

export async function startBroker(
  opts: { dataDir?: string; args?: string[]; env?: Record<string, string> } = {},
): Promise<BrokerProcess> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
  const proc = spawn(BUN, ["cli/main.ts", "serve", "--port", "0", "--kafka-port", "0", "--http-port", "0", "--data-dir", dataDir, ...(opts.args ?? [])], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(proc);
  let out = "";
  const append = (chunk: Buffer) => {
    out += chunk.toString("utf8");
    if (out.length > OUTPUT_BYTES_MAX) out = out.slice(out.length - OUTPUT_BYTES_MAX);
  };
  const exited = new Promise<number>((resolve) => {
    proc.on("exit", (code, signal) => {
      running.delete(proc);
      resolve(code ?? (signal === "SIGKILL" ? 137 : signal === "SIGTERM" ? 143 : 128));
    });
  });
  proc.stderr!.on("data", append);

  const removeDir = () => {
    if (ownDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };

  let ready: RegExpMatchArray;
  try {
    ready = await new Promise<RegExpMatchArray>((resolve, reject) => {
      let stdout = "";
      const timer = setTimeout(() => reject(new Error(`broker not ready within ${READY_TIMEOUT_MS} ms; output:\n${out}`)), READY_TIMEOUT_MS);
      proc.stdout!.on("data", (chunk: Buffer) => {
        append(chunk);
        stdout += chunk.toString("utf8");
        const m = READY_LINE.exec(stdout);
        if (m !== null) {
          clearTimeout(timer);
          resolve(m);
        }
      });
      exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`broker exited with ${code} before it was ready; output:\n${out}`));
      });
    });
  } catch (e) {
    proc.kill("SIGKILL");
    await exited;
    removeDir();
    throw e;
  }

  const waitExit = async (): Promise<number> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      exited,
      new Promise<number>((resolve) => {
        timer = setTimeout(() => {
          proc.kill("SIGKILL");
          resolve(-1);
        }, STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (code === -1) await exited;
    return code;
  };

  return {
    port: Number(ready[2]),
    kafkaPort: ready[3] === undefined ? null : Number(ready[3]),
    httpPort: Number(ready[4]),
    dataDir,
    proc,
    pid: proc.pid!,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const code = await waitExit();
      removeDir();
      return code;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
    output: () => out,
    async cleanup() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
      removeDir();
    },
  };
}
