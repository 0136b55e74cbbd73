// What every peer run reports, Sluice's included, so one table can put them side by side.

import type { LatencySummary } from "../load/latency.ts";

export interface PeerResult {
  /** "redis", "nats", "sluice". */
  peer: string;
  /** The durability and pipelining setting, in words ("appendfsync always, pipeline 16"). */
  setting: string;
  /** Whether an ack means the message was fdatasync'ed. */
  fsyncBeforeAck: boolean;
  /** The exact command or configuration that reproduces the run. */
  command: string;
  msgsPerSec: number;
  mbPerSec: number;
  latency: LatencySummary;
  sent: number;
  acked: number;
  /** Messages the server holds afterwards (its own count), when it could be read. */
  stored?: number;
  /** Acknowledged messages the server does not hold (acked - stored, when stored is known). */
  lost?: number;
  errors: number;
  serverCpuCores?: number;
  serverRssMaxBytes?: number;
  clientCpuCores?: number;
  /** Cores busy on the whole machine during the run (anything running, not only this benchmark). */
  machineBusyCores?: number;
  wallSec: number;
}

export interface PeerSkipped {
  peer: string;
  setting: string;
  skipped: string;
}

export type PeerOutcome = PeerResult | PeerSkipped;

export function isSkipped(outcome: PeerOutcome): outcome is PeerSkipped {
  return "skipped" in outcome;
}

/** Client CPU as cores busy over a wall-clock interval (process.cpuUsage covers every thread). */
export class ClientCpu {
  private readonly start = process.cpuUsage();
  private readonly startMs = performance.now();
  cores(): number {
    const used = process.cpuUsage(this.start);
    const wallMs = Math.max(1, performance.now() - this.startMs);
    return (used.user + used.system) / 1000 / wallMs;
  }
}
