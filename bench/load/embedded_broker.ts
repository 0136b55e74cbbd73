// `--embedded`: a broker of our own in a temp dir, in its own process (so the
// load threads and the broker do not share an event loop or a heap, and the
// broker is measured as a server), removed afterwards.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, type ServerProcess } from "./server_process.ts";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/**
 * Running inside the single-file binary (`npm run build:binary`): its modules
 * live in Bun's embedded file system, and the binary itself is the broker
 * (`<binary> serve`), with no source tree to point at.
 */
const IN_BINARY = import.meta.url.includes("/$bunfs/");
const READY_LINE = /sluice listening on ([\d.]+):(\d+) \((?:kafka (\d+), )?http (\d+)\)/;
const READY_TIMEOUT_MS = 30_000;

export interface EmbeddedBroker {
  readonly host: string;
  readonly port: number;
  /** The Kafka listener's port (started on a free one). */
  readonly kafkaPort: number;
  readonly httpPort: number;
  readonly pid: number;
  readonly dataDir: string;
  readonly process: ServerProcess;
  /** Stops the broker (SIGTERM, then SIGKILL) and removes its data dir. */
  stop(): Promise<void>;
}

/** The Bun binary: ours when running under Bun, else the one npm installed. */
export function bunBinary(): string {
  if (process.versions.bun !== undefined) return process.execPath;
  return path.join(REPO_ROOT, "node_modules", ".bin", "bun");
}

export async function startEmbeddedBroker(options: { serveArgs?: string[]; cpuProfileDir?: string } = {}): Promise<EmbeddedBroker> {
  if (IN_BINARY && options.cpuProfileDir !== undefined) {
    throw new Error("--profile-broker runs the broker under `bun --cpu-prof`: use it from the source tree (bun cli/main.ts bench ...), not the binary");
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-bench-"));
  let server: ServerProcess;
  try {
    server = await startServer({
      command: bunBinary(),
      args: [
        // Bun writes the profile when the process exits after SIGTERM.
        ...(options.cpuProfileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileDir}`]),
        ...(IN_BINARY ? [] : [path.join(REPO_ROOT, "cli", "main.ts")]),
        "serve",
        "--port", "0",
        "--kafka-port", "0",
        "--http-port", "0",
        "--data-dir", dataDir,
        ...(options.serveArgs ?? []),
      ],
      readyLine: READY_LINE,
      readyTimeoutMs: READY_TIMEOUT_MS,
      cwd: IN_BINARY ? process.cwd() : REPO_ROOT,
    });
  } catch (error) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return {
    host: server.ready[1],
    port: Number(server.ready[2]),
    kafkaPort: Number(server.ready[3]),
    httpPort: Number(server.ready[4]),
    pid: server.pid,
    dataDir,
    process: server,
    stop: () => {
      stopped ??= (async () => {
        await server.stop(10_000);
        fs.rmSync(dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
