// Start a server process (the embedded broker, redis-server, nats-server), wait
// for the line that says it is ready, and stop it by its PID afterwards.
// Output is kept in a bounded tail so a failed start can say why.

import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";

const OUTPUT_TAIL_BYTES_MAX = 16 * 1024;

export interface ServerProcess {
  readonly pid: number;
  /** The regex match of the ready line. */
  readonly ready: RegExpMatchArray;
  /** Last lines of stdout and stderr (bounded). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code or signal once it has exited. */
  stop(graceMs?: number): Promise<string>;
  readonly exited: Promise<string>;
}

export interface StartOptions {
  command: string;
  args: string[];
  /** Matched against each line of stdout and stderr. */
  readyLine: RegExp;
  readyTimeoutMs: number;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

export function startServer(options: StartOptions): Promise<ServerProcess> {
  const child: ChildProcess = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  let exitText: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.on("exit", (code, signal) => {
      exitText = signal !== null ? `signal ${signal}` : `exit ${code}`;
      resolve(exitText);
    });
    child.on("error", (error) => {
      exitText = `spawn failed: ${error.message}`;
      resolve(exitText);
    });
  });

  return new Promise<ServerProcess>((resolve, reject) => {
    let settled = false;
    let partial = "";
    const stopChild = async (graceMs = 5000): Promise<string> => {
      if (exitText !== undefined || child.pid === undefined) return exited;
      try {
        process.kill(child.pid, "SIGTERM");
      } catch {
        return exited;
      }
      const timer = setTimeout(() => {
        if (exitText === undefined && child.pid !== undefined) {
          try {
            process.kill(child.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }, graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    };
    const timeout = setTimeout(() => {
      if (settled) return;
      settled = true;
      void stopChild(1000);
      reject(new Error(`${options.command} did not print its ready line within ${options.readyTimeoutMs} ms; output:\n${tail}`));
    }, options.readyTimeoutMs);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      tail = (tail + text).slice(-OUTPUT_TAIL_BYTES_MAX);
      if (settled) return;
      partial += text;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      if (partial.length > OUTPUT_TAIL_BYTES_MAX) partial = partial.slice(-OUTPUT_TAIL_BYTES_MAX);
      for (const line of lines) {
        const match = line.match(options.readyLine);
        if (match === null) continue;
        settled = true;
        clearTimeout(timeout);
        resolve({
          pid: child.pid as number,
          ready: match,
          output: () => tail,
          stop: stopChild,
          exited,
        });
        return;
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    void exited.then((how) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      reject(new Error(`${options.command} ended before it was ready (${how}); output:\n${tail}`));
    });
  });
}

/** A TCP port that was free a moment ago on 127.0.0.1 (for servers that cannot bind port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Full path of an executable on PATH, or undefined when it is not installed. */
export function which(name: string): string | undefined {
  // Debian puts some servers (nats-server) in /usr/sbin, which a user's PATH may lack.
  const sbin = process.env.SLUICE_PEERS_SEARCH_SBIN === "0" ? [] : ["/usr/sbin", "/usr/local/sbin", "/sbin"];
  const dirs = (process.env.PATH ?? "").split(":").concat(sbin);
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = `${dir}/${name}`;
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
