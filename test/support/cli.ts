// Runs the `sluice` CLI (bun cli/main.ts) against a test broker, as a user
// would: `await sluice(["topics", "create", "t"], { broker })`. A deadline
// bounds every run; a long-running command (a producer fed through stdin, a
// group consumer) is started with `spawnSluice` and stopped by its PID.

import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const BUN = path.join(REPO_ROOT, "node_modules", ".bin", "bun");
const CLI_TIMEOUT_MS = 30_000;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function spawnSluice(args: string[], broker: string): ChildProcess {
  return spawn(BUN, ["cli/main.ts", ...args, "--broker", broker], { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
}

/** Runs one command to its end (stdin: `input`, then closed); rejects past CLI_TIMEOUT_MS. */
export function sluice(args: string[], opts: { broker: string; input?: string }): Promise<CliResult> {
  return runSluice([...args, "--broker", opts.broker], opts.input);
}

/** Runs `bun cli/main.ts ARGV` to its end, whatever its flags (an admin command's `--etcd …`); rejects past CLI_TIMEOUT_MS. */
export function runSluice(argv: string[], input = ""): Promise<CliResult> {
  const proc = spawn(BUN, ["cli/main.ts", ...argv], { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout!.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
  proc.stderr!.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  proc.stdin!.end(input);
  return new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`sluice ${argv.join(" ")} did not finish within ${CLI_TIMEOUT_MS} ms; stderr:\n${stderr}`));
    }, CLI_TIMEOUT_MS);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Like sluice() but throws unless the command exits 0. */
export async function sluiceOk(args: string[], opts: { broker: string; input?: string }): Promise<string> {
  const r = await sluice(args, opts);
  if (r.code !== 0) throw new Error(`sluice ${args.join(" ")} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

/**
 * Runs one CLI command's `run(argv)` in this process (an admin command that
 * only talks to etcd or a broker, no process of its own to wait for), its
 * console output kept instead of printed; resolves with its exit code and
 * that output. console is the command's while it runs: the caller prints
 * through process.stdout meanwhile.
 */
export async function runInProcess(run: (argv: string[]) => Promise<number>, argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  const err = console.error;
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    return { code: await run(argv), out: lines.join("\n") };
  } finally {
    console.log = log;
    console.error = err;
  }
}
