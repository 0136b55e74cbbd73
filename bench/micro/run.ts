// Micro benchmarks: runs every suite in bench/micro/ with tinybench and prints
// medians. Usage:
//
//   ./node_modules/.bin/bun bench/micro/run.ts [--small] [name-filter ...]
//   npm run bench:micro
//
// Convention for a suite (add one by dropping a file here, nothing to register):
//   - the file is named `bench/micro/<topic>_bench.ts`;
//   - it exports `function register(bench: Bench, opts: MicroOptions): void`
//     that adds its tasks with `bench.add(name, fn)`; task names start with the
//     topic ("crc32c 4 KiB") so the printed table reads on its own;
//   - with `opts.small` true it must use small inputs: the test suite
//     (bench/micro/micro.test.ts) runs every suite that way, so none can rot;
//   - a task that processes a known number of bytes per call may declare it
//     with `opts.bytesPerOp(taskName, bytes)` and the table shows MB/s too;
//   - setup (building inputs) happens in register(), not inside the timed fn;
//     a task's fn should return or consume its result so it is not optimised away.
// The machine has 2 shared cores: full runs take about half a second per task.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Bench } from "tinybench";

export interface MicroOptions {
  /** true inside the test suite: tiny inputs, a few iterations. */
  small: boolean;
  /** Declares that one call of `task` processes `bytes` bytes (the table then shows MB/s). */
  bytesPerOp(task: string, bytes: number): void;
}

export type RegisterFn = (bench: Bench, opts: MicroOptions) => void;

export interface SuiteFile {
  /** e.g. "crc32c" for crc32c_bench.ts */
  name: string;
  file: string;
}

export interface TaskFigures {
  suite: string;
  task: string;
  /** Median ops per second. */
  opsPerSecond: number;
  /** Median latency of one op in nanoseconds. */
  latencyNs: number;
  /** Samples taken. */
  samples: number;
  /** Median MB/s (10^6 bytes) when the suite declared bytes per op. */
  megabytesPerSecond?: number;
}

const MICRO_DIR = path.dirname(fileURLToPath(import.meta.url));
const SUITE_SUFFIX = "_bench.ts";

/** Every `*_bench.ts` in bench/micro/, sorted by name. */
export function discoverSuites(dir = MICRO_DIR): SuiteFile[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(SUITE_SUFFIX))
    .sort()
    .map((f) => ({ name: f.slice(0, -SUITE_SUFFIX.length), file: path.join(dir, f) }));
}

/** Bench settings: full runs ~0.5 s per task; small runs only prove the task works. */
export function benchOptions(small: boolean): ConstructorParameters<typeof Bench>[0] {
  return small
    ? { time: 5, iterations: 5, warmup: true, warmupTime: 0, warmupIterations: 2 }
    : { time: 500, iterations: 20, warmup: true, warmupTime: 100, warmupIterations: 20 };
}

/** Imports one suite, runs it, and returns its figures. Throws if the file breaks the convention or a task fails. */
export async function runSuite(suite: SuiteFile, small: boolean): Promise<TaskFigures[]> {
  const mod = (await import(pathToFileURL(suite.file).href)) as { register?: unknown };
  if (typeof mod.register !== "function") {
    throw new Error(`${suite.file} does not export register(bench, opts) (see bench/micro/run.ts)`);
  }
  const bench = new Bench({ name: suite.name, ...benchOptions(small), throws: true });
  const bytes = new Map<string, number>();
  (mod.register as RegisterFn)(bench, { small, bytesPerOp: (task, n) => bytes.set(task, n) });
  if (bench.tasks.length === 0) throw new Error(`${suite.file} registered no tasks`);
  await bench.run();
  const out: TaskFigures[] = [];
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== "completed") {
      const why = r.state === "errored" ? r.error.message : r.state;
      throw new Error(`${suite.name}: task "${task.name}" did not complete: ${why}`);
    }
    const opsPerSecond = r.throughput.p50;
    const perOp = bytes.get(task.name);
    out.push({
      suite: suite.name,
      task: task.name,
      opsPerSecond,
      latencyNs: r.latency.p50 * 1e6,
      samples: r.latency.samplesCount ?? 0,
      megabytesPerSecond: perOp === undefined ? undefined : (opsPerSecond * perOp) / 1e6,
    });
  }
  return out;
}

function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(1);
}

function printTable(rows: TaskFigures[]): void {
  const header = ["task", "ops/s (p50)", "ns/op (p50)", "MB/s", "samples"];
  const lines = rows.map((r) => [
    r.task,
    formatCount(r.opsPerSecond),
    r.latencyNs.toFixed(0),
    r.megabytesPerSecond === undefined ? "" : r.megabytesPerSecond.toFixed(0),
    String(r.samples),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cols: string[]) => cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
}

async function main(argv: string[]): Promise<void> {
  const small = argv.includes("--small");
  const filters = argv.filter((a) => !a.startsWith("--"));
  const suites = discoverSuites().filter((s) => filters.length === 0 || filters.some((f) => s.name.includes(f)));
  const o = benchOptions(small);
  console.log(`command: bun bench/micro/run.ts ${argv.join(" ")}`.trimEnd());
  console.log(
    `runtime: ${typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.version}`}; ` +
      `mode: ${small ? "small" : "full"}; per task: time ${o?.time} ms, ≥${o?.iterations} iterations, warmup ${o?.warmupTime} ms; figures are medians`,
  );
  for (const suite of suites) {
    console.log(`\n## ${suite.name} (${path.relative(process.cwd(), suite.file)})`);
    printTable(await runSuite(suite, small));
  }
}

if (import.meta.main) {
  await main(process.argv.slice(2));
}
