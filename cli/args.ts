// Flag parsing and the error/exit conventions shared by the client commands
// (topics, produce, consume):
//
// - `--broker HOST:PORT` everywhere (default $SLUICE_BROKER, else 127.0.0.1:9900),
//   `--json` for machine-readable output, `--verbose` for stacks, `--help`.
// - A usage mistake prints one line and the usage, exit 2. A failure prints
//   one line on stderr (`sluice topics: <what> (<CODE>)`), exit 1; the stack
//   only under --verbose.

import fs from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_BROKER } from "../client/options.ts";
import { SluiceError } from "../protocol/errors.ts";
import { errorCodeName } from "../client/errors.ts";
import { CLI_CONNECT_TIMEOUT_MS, STDOUT_FULL_RETRY_MS } from "./cli_limits.ts";

export interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly multiple?: boolean;
  readonly short?: string;
  /** Shown in --help after the flag, e.g. "N" in `--partitions N`. */
  readonly value?: string;
  readonly help: string;
}

export interface CommandSpec {
  /** "sluice produce TOPIC [options]" */
  readonly usage: string;
  /** One or two sentences under the usage line. */
  readonly summary: string;
  readonly flags: Record<string, FlagSpec>;
  /** Extra lines at the end of --help (examples). */
  readonly notes?: readonly string[];
}

/** Flags every client command takes. */
export const COMMON_FLAGS: Record<string, FlagSpec> = {
  broker: { type: "string", value: "HOST:PORT[,HOST:PORT]", help: `broker address, or several of a cluster (default $SLUICE_BROKER or ${DEFAULT_BROKER})` },
  json: { type: "boolean", help: "machine-readable output (JSON)" },
  verbose: { type: "boolean", help: "print stack traces with errors" },
  help: { type: "boolean", short: "h", help: "show this help" },
};

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export type FlagValues = Record<string, string | boolean | string[] | boolean[] | undefined>;


export interface ParsedArgs {
  readonly values: FlagValues;
  readonly positionals: string[];
  readonly broker: string;
  /** Options for the client objects a command creates: broker, client id, connect timeout. */
  readonly client: { broker: string; clientId: string; connectTimeoutMs: number };
  readonly json: boolean;
  readonly verbose: boolean;
}

export function helpText(spec: CommandSpec): string {
  const flags = { ...spec.flags, ...COMMON_FLAGS };
  const lines = [`usage: ${spec.usage}`, "", spec.summary, "", "options:"];
  for (const [name, f] of Object.entries(flags)) {
    const left = `${f.short ? `-${f.short}, ` : "    "}--${name}${f.value ? ` ${f.value}` : ""}${f.multiple ? " (repeatable)" : ""}`;
    lines.push(`  ${left.padEnd(34)} ${f.help}`);
  }
  if (spec.notes?.length) lines.push("", ...spec.notes);
  return lines.join("\n");
}

export function parseCommandArgs(argv: string[], spec: CommandSpec, env: Record<string, string | undefined> = process.env): ParsedArgs {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {};
  for (const [name, f] of Object.entries({ ...spec.flags, ...COMMON_FLAGS })) {
    options[name] = { type: f.type, ...(f.multiple ? { multiple: true } : {}), ...(f.short ? { short: f.short } : {}) };
  }
  let parsed: { values: FlagValues; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as { values: FlagValues; positionals: string[] };
  } catch (e) {
    // node:util's messages are long; keep the first sentence.
    throw new UsageError(String((e as Error).message).split("\n")[0].replace(/\. To specify.*$/, ""));
  }
  const values = parsed.values;
  const broker = (values.broker as string | undefined) ?? env.SLUICE_BROKER ?? DEFAULT_BROKER;
  return {
    values,
    positionals: parsed.positionals,
    broker,
    client: { broker, clientId: "sluice-cli", connectTimeoutMs: CLI_CONNECT_TIMEOUT_MS },
    json: values.json === true,
    verbose: values.verbose === true,
  };
}

/** An integer flag in [min, max] (UsageError otherwise). */
export function intFlag(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in ${min}..${max}, got '${raw}'`);
  }
  return n;
}

/** `k=v` pairs into a map (UsageError on a pair without '='). */
export function keyValueFlags(name: string, raw: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of raw ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--${name} takes KEY=VALUE, got '${pair}'`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** One line describing an error: the message and, for coded errors, the code's name. */
export function errorLine(error: unknown): string {
  if (error instanceof SluiceError) {
    const name = errorCodeName(error.code);
    return error.message.includes(name) ? error.message : `${error.message} (${name})`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Runs a command body with the shared conventions: --help, usage errors (exit
 * 2), failures as one stderr line (exit 1, stack under --verbose).
 */
export async function runCommand(
  name: string,
  argv: string[],
  spec: CommandSpec,
  body: (args: ParsedArgs) => Promise<number>,
): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseCommandArgs(argv, spec);
  } catch (e) {
    process.stderr.write(`sluice ${name}: ${errorLine(e)}\n${helpText(spec)}\n`);
    return 2;
  }
  if (args.values.help === true) {
    process.stdout.write(`${helpText(spec)}\n`);
    return 0;
  }
  try {
    return await body(args);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`sluice ${name}: ${e.message}\nRun \`sluice ${name} --help\` for the options.\n`);
      return 2;
    }
    process.stderr.write(`sluice ${name}: ${errorLine(e)}\n`);
    if (args.verbose && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}

/** Writes to stdout honouring backpressure; resolves false once stdout is closed (e.g. `| head`). */
export async function writeOut(text: string): Promise<boolean> {
  // Writes go straight to fd 1 (a pipe or tty: no position), not process.stdout: on Bun a stream
  // write to a pipe whose reader has gone (`| head`) reports no error and never
  // drains, so a stream-based wait hangs forever. writeSync answers EPIPE at once,
  // and EAGAIN (a non-blocking pipe that is full) is waited out with a short timer:
  // a slow reader slows the consumer (backpressure) instead of growing a buffer.
  if (stdoutClosed) return false;
  const bytes = stdoutEncoder.encode(text);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += fs.writeSync(1, bytes, written, bytes.length - written);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") {
        await new Promise((resolve) => setTimeout(resolve, STDOUT_FULL_RETRY_MS));
        continue;
      }
      if (code === "EPIPE" || code === "EBADF" || code === "ECONNRESET") {
        stdoutClosed = true;
        return false;
      }
      throw e;
    }
  }
  return true;
}

const stdoutEncoder = new TextEncoder();
let stdoutClosed = false;

/** True once stdout's reader has gone away (EPIPE). */
export function stdoutGone(): boolean {
  return stdoutClosed;
}
