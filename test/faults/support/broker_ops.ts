// Small admin and observation helpers for the broker fault tests.

import fs from "node:fs";
import { RawClient } from "../../support/raw_client.ts";

export interface PartitionDescription {
  partition: number;
  online: boolean;
  errorCode?: number;
  logStartOffset: number;
  highWatermark: number;
  durableOffset: number;
  logEndOffset: number;
}

export async function createTopic(port: number, name: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    const r = (await c.control(19, { topics: [{ name, partitions, configs }] })) as { topics?: { errorCode: number; message?: string }[] };
    const t = r.topics?.[0];
    if (t === undefined || t.errorCode !== 0) throw new Error(`create topic ${name}: ${JSON.stringify(r)}`);
  } finally {
    c.close();
  }
}

export async function describePartitions(port: number, topic: string): Promise<PartitionDescription[]> {
  const c = await RawClient.connect(port);
  try {
    const r = (await c.control(1000, { topics: [topic] })) as { topics?: { partitions: PartitionDescription[] }[] };
    if (r.topics === undefined) throw new Error(`describe ${topic}: ${JSON.stringify(r)}`);
    return r.topics[0].partitions;
  } finally {
    c.close();
  }
}

/** Resident memory of a process, MiB (Linux /proc); NaN when unknown. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? NaN : Math.round(Number(m[1]) / 1024);
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) a process has used, ms (Linux /proc; clock ticks at 100 Hz). */
export function cpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

