// Storage fault injection for tests that run a real broker process.
//
// SLUICE_FAULTS holds JSON naming topics and the faults their partitions' files
// get when they are opened, e.g.
//   SLUICE_FAULTS='{"t": {"failFdatasyncAt": 3}}'      the 3rd fdatasync of each partition of t fails (EIO)
//   SLUICE_FAULTS='{"t": {"eioFile": "/tmp/x/disk-dead"}}'
//                                                      every fdatasync of t's partitions fails (EIO) once a file
//                                                      exists at /tmp/x/disk-dead: a disk that dies while the
//                                                      broker runs, when the test creates the file;
//                                                      "{partition}" in the path is the partition's number
//                                                      (…/dead-{partition}: one partition's disk at a time)
//   SLUICE_FAULTS='{"t": {"writeBytesMax": 100000}}'   writes fail with ENOSPC past 100,000 bytes per partition open
//   SLUICE_FAULTS='{"t": {"writeBytesMax": 100000, "spaceFile": "/tmp/x/freed"}}'
//                                                      the same, until a file exists at /tmp/x/freed: then the
//                                                      disk has room again, without a restart (checked only when
//                                                      a write would be refused; a test creates the file)
//   SLUICE_FAULTS='{"t": {"fdatasyncDelayMs": 20}}'    every fdatasync takes 20 ms longer: a slow disk
//   SLUICE_FAULTS='{"t": {"diskBytesPerSec": 1e6}}'    fdatasync pays for the bytes written at 1 MB/s: a slow disk
// Unset (always, outside tests) means real files and no wrapper at all. A value
// that does not parse stops the broker at start: a test must never run
// without the fault it asked for.

import { z } from "zod";
import type { FaultOptions } from "../workers/mod.ts";

const FaultOptionsSchema = z
  .object({
    failFdatasyncAt: z.number().int().min(1).optional(),
    eioFile: z.string().min(1).optional(),
    writeBytesMax: z.number().int().min(0).optional(),
    spaceFile: z.string().min(1).optional(),
    fdatasyncDelayMs: z.number().int().min(0).max(60_000).optional(),
    diskBytesPerSec: z.number().positive().optional(),
  })
  .strict();

const FaultsSchema = z.record(z.string().min(1), FaultOptionsSchema);

export type FaultsByTopic = ReadonlyMap<string, FaultOptions>;

/** Parses SLUICE_FAULTS; an empty map when unset. Throws, naming the problem, when it is set but invalid. */
export function faultsFromEnv(env: Record<string, string | undefined> = process.env): FaultsByTopic {
  const raw = env.SLUICE_FAULTS;
  if (raw === undefined || raw.trim() === "") return new Map();
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new Error(`SLUICE_FAULTS is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = FaultsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`SLUICE_FAULTS: ${issue.path.join(".") || "(value)"}: ${issue.message}`);
  }
  return new Map(Object.entries(parsed.data));
}
