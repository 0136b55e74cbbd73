// `sluice bench produce|consume|e2e`: load a broker (a running one, a
// cluster's brokers, or one started for the run with --embedded) and report
// throughput, latency percentiles and what was sent, acknowledged, consumed
// and lost. With --compare-rf R the same load runs again on a fresh topic with
// replication factor R, and the ratio of the two headline rates is printed
// (RF 3 against RF 1 in one command, same machine, same minute).
// Exit status: 0 when the run finished with nothing lost or corrupted,
// 1 when messages were lost, corrupted or failed, 2 on bad arguments.

import { BENCH_USAGE, type BenchOptions, parseBenchArgs, UsageError } from "../bench/load/options.ts";
import { type BenchResult, formatResult } from "../bench/load/result.ts";
import { runBench } from "../bench/load/run.ts";

export async function run(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`sluice bench: ${error.message}\n\n${BENCH_USAGE}`);
      return 2;
    }
    throw error;
  }
  if (options === "help") {
    console.log(BENCH_USAGE);
    return 0;
  }
  const results = [await runBench(options)];
  print(results[0], options);
  if (options.compareRf !== undefined) {
    const again: BenchOptions = {
      ...options,
      replicationFactor: options.compareRf,
      minInsyncReplicas: options.minInsyncReplicas === undefined ? undefined : Math.min(options.minInsyncReplicas, options.compareRf),
      compareRf: undefined,
    };
    results.push(await runBench(again));
    print(results[1], again);
    console.log(compareLine(results[0], results[1], options.replicationFactor, options.compareRf));
  }
  const bad = results.some((r) => (r.lost ?? 0) > 0 || r.corrupt > 0 || r.errors > 0);
  return bad ? 1 : 0;
}

function print(result: BenchResult, options: BenchOptions): void {
  console.log(formatResult(result));
  if (options.json) console.log(JSON.stringify(result));
}

/** "RF 3 / RF 1: 0.52 of the rate" from the two headline figures. */
export function compareLine(first: BenchResult, second: BenchResult, rf: number | undefined, compareRf: number): string {
  const name = (n: number | undefined) => (n === undefined ? "RF (cluster default)" : `RF ${n}`);
  const ratio = second.msgsPerSec > 0 ? first.msgsPerSec / second.msgsPerSec : 0;
  const latency = first.p99Ms !== null && second.p99Ms !== null ? `; p99 ${first.p99Ms.toFixed(1)} ms vs ${second.p99Ms.toFixed(1)} ms` : "";
  return `compare          ${name(rf)} ${first.msgsPerSec.toLocaleString("en-US")} msgs/s vs ${name(compareRf)} ${second.msgsPerSec.toLocaleString("en-US")} msgs/s: ${ratio.toFixed(2)} of the rate${latency}`;
}
