// `npm run build:binary`: the single-file binary dist/sluice (Bun's
// `bun build --compile`). Two steps: the web console is bundled from console/
// first, because the binary has no console/ beside it to bundle from at run
// time; the bundle is then compiled into the binary in place of
// engine/http/console_prebuilt.ts (which is null in the source tree, where
// the broker bundles on first request). Nothing is written but the binary.
//
//   bun scripts/build_binary.ts [--outfile PATH]   (default dist/sluice)

import path from "node:path";
import { bundleConsole, prebuiltConsoleModule } from "../engine/http/console_bundle.ts";
import { compileExecutable } from "../runtime/bundle_bun.ts";

const ROOT = path.resolve(import.meta.dir, "..");

/**
 * The binary's entry, then every file the program starts as a worker thread:
 * in a compiled binary a worker entry must be an entrypoint of its own, found
 * at /$bunfs/root/<its path from here> (workers/mod.ts, bench/load/run.ts).
 * test/binary.test.ts checks that every worker entry in the tree is listed.
 */
export const BINARY_ENTRYPOINTS = ["cli/main.ts", "workers/worker_main.ts", "bench/load/producer_worker.ts", "bench/load/consumer_worker.ts"] as const;

/** The module the console's prebuilt bundle replaces in the binary. */
export const CONSOLE_PREBUILT_MODULE = "engine/http/console_prebuilt.ts";

export const DEFAULT_OUTFILE = "dist/sluice";

export async function buildBinary(outfile: string): Promise<void> {
  const console_ = await bundleConsole();
  await compileExecutable({
    entrypoints: BINARY_ENTRYPOINTS.map((e) => path.join(ROOT, e)),
    outfile: path.resolve(outfile),
    replacedModules: { [path.join(ROOT, CONSOLE_PREBUILT_MODULE)]: prebuiltConsoleModule(console_) },
  });
}

function parseArgs(argv: string[]): string {
  if (argv.length === 0) return DEFAULT_OUTFILE;
  if (argv.length === 2 && argv[0] === "--outfile" && argv[1] !== "") return argv[1];
  throw new Error(`usage: bun scripts/build_binary.ts [--outfile PATH] (got: ${argv.join(" ")})`);
}

if (import.meta.main) {
  try {
    const outfile = parseArgs(process.argv.slice(2));
    const started = performance.now();
    await buildBinary(outfile);
    console.log(`built ${outfile} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (e) {
    console.error(`build:binary: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
