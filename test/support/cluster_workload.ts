// The workload a cluster fault test runs while it injects faults, recording
// the history the cluster checker judges (test/checker/cluster_history.ts):
//
// - producers: the native client, acks=all, idempotent, retrying, bootstrapped
//   from every broker's proxied address; keyed records with unique values
//   ("<producer>-<n>"), each key pinned to one partition, up to `inflightMax`
//   sends outstanding per producer. Each send is recorded when handed to the
//   client and again when it settles (acked with its offset, or failed).
// - a consumer group: `consumers` GroupConsumer members subscribed to the
//   topic, each delivery recorded. A member whose run() fails (its
//   coordinator gone for good) is replaced by a new one, up to a bound.
// - finalRead(): after the faults healed, every partition read from its log
//   start to its high watermark with a plain Consumer.
//
// Progress is what tells a test the cluster recovered: waitForProgress(t0)
// resolves once every partition acked a record sent after t0, and says how
// long that took (the "time to recover" in the reports).

import { Admin, Consumer, GroupConsumer, Producer } from "../../client/mod.ts";
import { ClusterHistoryRecorder } from "../checker/cluster_history.ts";
import { pollUntil } from "./wait_for.ts";

export interface ClusterWorkloadOptions {
  /** Bootstrap list (every broker's proxied address). */
  readonly bootstrap: () => string;
  readonly topic: string;
  readonly partitions: number;
  readonly producers?: number;
  /** Keys per partition (each key stays on one partition). */
  readonly keysPerPartition?: number;
  readonly inflightMax?: number;
  /** Group members (0: no group). */
  readonly consumers?: number;
  readonly groupId?: string;
  readonly valueBytes?: number;
  readonly log?: (line: string) => void;
}

/** Replacement group members at most, over a whole run: a bound, not a retry loop without end. */
const CONSUMER_RESTARTS_MAX = 50;

export interface WorkloadStats {
  sent: number;
  acked: number;
  failed: number;
  /** Failed sends by error name/code. */
  errors: Map<string, number>;
  consumerRestarts: number;
  /** Records delivered to the group. */
  delivered: number;
}

export class ClusterWorkload {
  readonly history = new ClusterHistoryRecorder();
  readonly stats: WorkloadStats = { sent: 0, acked: 0, failed: 0, errors: new Map(), consumerRestarts: 0, delivered: 0 };
  private readonly opts: Required<Omit<ClusterWorkloadOptions, "log">> & { log: (line: string) => void };
  private readonly producers: Producer[] = [];
  private readonly loops: Promise<void>[] = [];
  private readonly members = new Set<GroupConsumer>();
  private readonly memberRuns: Promise<void>[] = [];
  private running = false;
  /** Per partition: the send time (ms, performance.now) of the latest-sent record acked so far. */
  private readonly latestAckedSendMs: number[];

  constructor(opts: ClusterWorkloadOptions) {
    this.opts = {
      producers: 1,
      keysPerPartition: 4,
      inflightMax: 16,
      consumers: 2,
      groupId: `g-${opts.topic}`,
      valueBytes: 0,
      log: () => {},
      ...opts,
    };
    this.latestAckedSendMs = Array.from({ length: opts.partitions }, () => -1);
  }

  start(): void {
    this.running = true;
    for (let i = 0; i < this.opts.producers; i++) {
      const producer = new Producer({
        broker: this.opts.bootstrap(),
        acks: "all",
        idempotent: true,
        retries: 1_000_000,
        retryBackoffMs: 50,
        retryBackoffMsMax: 500,
        deliveryTimeoutMs: 120_000,
        // A request to a stopped or cut-off leader is given up after requestTimeoutMs + ackTimeoutMs
        // (then retried, on the new leader once metadata names it): this bounds the recovery time seen.
        ackTimeoutMs: 4_000,
        connectTimeoutMs: 1_000,
        requestTimeoutMs: 2_000,
        metadataMaxAgeMs: 1_000,
        lingerMs: 2,
      });
      this.producers.push(producer);
      this.loops.push(this.produceLoop(producer, `p${i}`));
    }
    for (let i = 0; i < this.opts.consumers; i++) this.startMember(`c${i}`);
  }

  private async produceLoop(producer: Producer, name: string): Promise<void> {
    const { topic, partitions, keysPerPartition, inflightMax } = this.opts;
    const pad = this.opts.valueBytes > 0 ? "." + "x".repeat(this.opts.valueBytes) : "";
    const inflight = new Set<Promise<void>>();
    let n = 0;
    while (this.running) {
      while (this.running && inflight.size < inflightMax) {
        const keyIndex = n % (partitions * keysPerPartition);
        const partition = keyIndex % partitions;
        const key = `${name}-k${keyIndex}`;
        const value = `${name}-${n}${pad}`;
        n++;
        this.history.sent(value, key, topic, partition);
        this.stats.sent++;
        const sentMs = performance.now();
        const p: Promise<void> = producer.send(topic, { key, value, partition }).then(
          (meta) => {
            this.history.acked(value, meta.partition, Number(meta.offset));
            this.stats.acked++;
            if (sentMs > this.latestAckedSendMs[meta.partition]) this.latestAckedSendMs[meta.partition] = sentMs;
          },
          (e: unknown) => {
            this.stats.failed++;
            const what = (e as { code?: number; name?: string })?.code ?? (e as Error)?.name ?? String(e);
            this.stats.errors.set(String(what), (this.stats.errors.get(String(what)) ?? 0) + 1);
          },
        ).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      if (inflight.size > 0) await Promise.race(inflight);
    }
    await Promise.allSettled([...inflight]);
  }

  private startMember(name: string): void {
    const member = new GroupConsumer({
      broker: this.opts.bootstrap(),
      groupId: this.opts.groupId,
      clientId: name,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
      rebalanceTimeoutMs: 10_000,
      autoCommitIntervalMs: 500,
      pollWaitMs: 200,
      connectTimeoutMs: 1_000,
      requestTimeoutMs: 10_000,
      log: () => {},
      onCommitError: () => {},
    });
    this.members.add(member);
    member.subscribe([this.opts.topic]);
    const run = member
      .run({
        eachMessage: (m) => {
          const value = m.value === null ? "" : new TextDecoder().decode(m.value);
          this.history.read(name, m.topic, m.partition, m.offset, value);
          this.stats.delivered++;
        },
      })
      .catch((e: unknown) => this.opts.log(`group member ${name} stopped: ${(e as Error)?.message ?? e}`))
      .finally(async () => {
        this.members.delete(member);
        await member.close().catch(() => {});
        if (this.running && this.stats.consumerRestarts < CONSUMER_RESTARTS_MAX) {
          this.stats.consumerRestarts++;
          this.startMember(`${name}r`);
        }
      });
    this.memberRuns.push(run);
  }

  /**
   * Waits until every partition acked a record sent at or after `sinceMs`
   * (performance.now); returns the time that took from `sinceMs`, or
   * undefined if `timeoutMs` passed first.
   */
  async waitForProgress(sinceMs: number, timeoutMs: number): Promise<number | undefined> {
    const at: (number | undefined)[] = this.latestAckedSendMs.map(() => undefined);
    const ok = await pollUntil(() => {
      this.latestAckedSendMs.forEach((t, p) => {
        if (t >= sinceMs && at[p] === undefined) at[p] = Math.round(performance.now() - sinceMs);
      });
      return at.every((t) => t !== undefined);
    }, { timeoutMs, everyMs: 20 });
    this.lastProgressMs = at;
    return ok ? performance.now() - sinceMs : undefined;
  }

  /** Per partition, how long the last waitForProgress waited for it (undefined: it did not progress). */
  lastProgressMs: (number | undefined)[] = [];

  /** Waits until the group delivered at least `count` records in all. */
  async waitForDelivered(count: number, timeoutMs: number): Promise<boolean> {
    return pollUntil(() => this.stats.delivered >= count, { timeoutMs, everyMs: 20 });
  }

  /** Stops producing (waiting for the sends in flight to settle) and the group. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const p of this.producers) await p.close({ timeoutMs: 5_000 }).catch(() => {});
    for (const m of [...this.members]) await m.close().catch(() => {});
    await Promise.allSettled(this.memberRuns);
  }

  /**
   * Reads every partition from its log start to its high watermark into the
   * history's final read. `leaderAddress` names the partition's leader (list
   * offsets is answered by the leader alone).
   */
  async finalRead(leaderAddress: (partition: number) => Promise<string>, timeoutMs = 60_000): Promise<void> {
    const { topic, partitions } = this.opts;
    const consumer = new Consumer({ broker: this.opts.bootstrap(), fetchMaxWaitMs: 100, connectTimeoutMs: 1_000 });
    try {
      const end = new Map<number, number>();
      for (let partition = 0; partition < partitions; partition++) {
        const admin = new Admin({ broker: await leaderAddress(partition), connectTimeoutMs: 1_000 });
        try {
          const [a] = await admin.listOffsets([{ topic, partition, at: "latest" }]);
          if (a.errorCode !== 0) throw new Error(`final read: list offsets of ${topic}/${partition}: error ${a.errorCode}`);
          end.set(partition, Number(a.offset));
        } finally {
          await admin.close().catch(() => {});
        }
      }
      consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, position: "beginning" as const })));
      const next = new Map<number, number>();
      const deadline = performance.now() + timeoutMs;
      const done = () => [...end].every(([p, e]) => (next.get(p) ?? 0) >= e);
      while (!done()) {
        if (performance.now() > deadline) throw new Error(`final read: not at the high watermarks ${JSON.stringify([...end])} within ${timeoutMs} ms (at ${JSON.stringify([...next])})`);
        for (const r of await consumer.poll({ maxWaitMs: 200 })) {
          const offset = Number(r.offset);
          if (offset >= end.get(r.partition)!) continue;
          this.history.final(r.topic, r.partition, offset, r.value === null ? "" : new TextDecoder().decode(r.value));
          next.set(r.partition, offset + 1);
        }
      }
    } finally {
      await consumer.close().catch(() => {});
    }
  }
}
