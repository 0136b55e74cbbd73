// How a partition worker opens a partition's log: the real PartitionLog on real
// files, or, when a test asked for faults, on a FaultyFileOps wrapper.

import * as path from "node:path";
import type { FaultOptions } from "./control.ts";
import { FaultyFileOps, PartitionLog, realFileOps } from "./log/mod.ts";
import type { HostedLog } from "./hosted_partition.ts";
import type { OpenLog } from "./partition_host.ts";

export const openHostedLog: OpenLog = ({ dir, config, faults }) => {
  const log: HostedLog = PartitionLog.open({ dir, config, files: filesFor(faults, dir) });
  return { log, recovery: (log as PartitionLog).recovery };
};

function filesFor(faults: FaultOptions | undefined, dir: string) {
  if (faults === undefined) return realFileOps;
  return new FaultyFileOps(realFileOps, {
    failFdatasyncAt: faults.failFdatasyncAt,
    // "{partition}" names this partition's own file, so a test can fail one replica's disk and not its neighbours'.
    eioFile: faults.eioFile?.replaceAll("{partition}", path.basename(dir)),
    writeBytesMax: faults.writeBytesMax,
    spaceFile: faults.spaceFile,
    fdatasyncDelayMs: faults.fdatasyncDelayMs,
    diskBytesPerSec: faults.diskBytesPerSec,
  });
}
