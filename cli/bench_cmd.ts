// `sluice bench produce|consume|e2e`: load a broker (a running one, or one
// started for the run with --embedded) and report throughput, latency
// percentiles and what was sent, acknowledged, consumed and lost.
// Exit status: 0 when the run finished with nothing lost or corrupted,
// 1 when messages were lost, corrupted or failed, 2 on bad arguments.

import { BENCH_USAGE, parseBenchArgs, UsageError } from "../bench/load/options.ts";
import { formatResult } from "../bench/load/result.ts";
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
  const result = await runBench(options);
  console.log(formatResult(result));
  if (options.json) console.log(JSON.stringify(result));
  const bad = (result.lost ?? 0) > 0 || result.corrupt > 0 || result.errors > 0;
  return bad ? 1 : 0;
}
