// Consumer-group offsets under kill -9 of the broker and of consumers.
//
// Three members (separate processes, test/faults/support/group_member_child.ts)
// consume a 4-partition topic that a producer keeps writing to, committing
// every 150 ms. At random moments one member is SIGKILLed (the group rebalances
// its partitions to the others after the session timeout) or the broker is
// SIGKILLed (everything restarts on the same data dir). An observer reads the
// group's committed offsets (OffsetFetch) and the high watermarks every 50 ms.
// The commit checker then judges: a committed offset never goes backwards (an
// acknowledged commit is never lost, not even to kill -9) and never passes the
// high watermark.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type CommitEvent, checkCommits } from "../../checker/commit_checker.ts";
import { History, partitionKey } from "../../checker/history.ts";
import { type BrokerProcess, startBroker } from "../../support/broker.ts";
import { RawClient } from "../../support/raw_client.ts";
import { createTopic } from "../support/broker_ops.ts";
import { Rng } from "../support/rng.ts";
import { PipelinedProducer } from "../support/workload.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUN = path.join(HERE, "..", "..", "..", "node_modules", ".bin", "bun");
const CHILD = path.join(HERE, "..", "support", "group_member_child.ts");
const TOPIC = "grp";
const PARTITIONS = 4;
const MEMBERS = 3;

export interface GroupFaultOptions {
  cycles: number;
  seed: number;
}

export async function runGroupFaults(opts: GroupFaultOptions) {
  const rng = new Rng(opts.seed);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
  const events: CommitEvent[] = [];
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const children = new Map<number, ChildProcess>();
  let broker: BrokerProcess | null = null;
  let producer: PipelinedProducer | null = null;
  const history = new History(); // the producer's; not judged here
  let commits = 0;
  let brokerKills = 0;
  let memberKills = 0;
  let observing = true;

  const spawnMember = (slot: number): void => {
    const port = broker!.port;
    const child = spawn(BUN, [CHILD, String(port), "g", TOPIC], { stdio: ["ignore", "pipe", "pipe"] });
    children.set(slot, child);
    let buf = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^commit (\d+) (\d+) (\d+)$/.exec(line);
        if (m !== null) {
          commits++;
          events.push({ kind: "commitAck", group: "g", member: `m${slot}-${child.pid}`, partition: partitionKey(TOPIC, Number(m[2])), offset: Number(m[3]), atMs: now() });
        }
      }
    });
    child.stderr!.on("data", () => {});
    // A member that lost its broker exits; it is respawned once the broker is back.
    child.on("exit", () => {
      if (children.get(slot) === child) children.delete(slot);
    });
  };
  const killMember = (slot: number): Promise<void> => {
    const c = children.get(slot);
    if (c === undefined || c.exitCode !== null) return Promise.resolve();
    children.delete(slot);
    return new Promise((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGKILL");
    });
  };
  const startAll = async (first = false): Promise<void> => {
    broker = await startBroker({ dataDir, args: ["--workers", "2"] });
    if (first) await createTopic(broker.port, TOPIC, PARTITIONS);
    producer = new PipelinedProducer({ port: broker.port, topic: TOPIC, partitions: [0, 1, 2, 3], name: `p${brokerKills}`, history, rng, inflightMax: 4, recordsPerBatchMax: 5 });
    await producer.start();
    for (let s = 0; s < MEMBERS; s++) if (!children.has(s)) spawnMember(s);
  };

  // The observer: committed offsets and high watermarks, every 50 ms, whenever the broker answers.
  const observe = async (): Promise<void> => {
    while (observing) {
      const b = broker;
      if (b !== null) {
        try {
          const c = await RawClient.connect(b.port);
          try {
            while (observing && broker === b && !c.isClosed) {
              const requestedAtMs = now();
              const f = (await c.control(9, { groupId: "g", topics: [{ name: TOPIC, partitions: [0, 1, 2, 3] }] })) as { topics?: { partitions: { partition: number; offset: number; errorCode: number }[] }[] };
              const at = now();
              for (const p of f.topics?.[0]?.partitions ?? []) {
                if (p.errorCode === 0 && p.offset >= 0) events.push({ kind: "committedRead", group: "g", partition: partitionKey(TOPIC, p.partition), offset: p.offset, requestedAtMs, atMs: at });
              }
              const d = (await c.control(1000, { topics: [TOPIC] })) as { topics?: { partitions: { partition: number; highWatermark: number }[] }[] };
              for (const p of d.topics?.[0]?.partitions ?? []) events.push({ kind: "watermark", partition: partitionKey(TOPIC, p.partition), highWatermark: p.highWatermark, atMs: now() });
              await Bun.sleep(50);
            }
          } finally {
            c.close();
          }
        } catch {
          // the broker is down: wait for the next one
        }
      }
      await Bun.sleep(20);
    }
  };

  try {
    await startAll(true);
    const observer = observe();
    for (let cycle = 0; cycle < opts.cycles; cycle++) {
      await Bun.sleep(rng.between(600, 1_500));
      if (rng.chance(0.4)) {
        brokerKills++;
        await broker!.kill9();
        await producer!.stop();
        await Promise.all([...children.keys()].map((s) => killMember(s)));
        await startAll();
      } else {
        memberKills++;
        const slot = rng.below(MEMBERS);
        await killMember(slot);
        spawnMember(slot);
      }
      // Members that exited on their own (lost the broker) come back.
      for (let s = 0; s < MEMBERS; s++) if (!children.has(s)) spawnMember(s);
    }
    await Bun.sleep(1_500);
    observing = false;
    await observer;
    await producer!.stop();
    await Promise.all([...children.keys()].map((s) => killMember(s)));
    // Last look: the high watermarks after everything stopped (so a commit made just
    // before the observer's last sample is judged against the final state too).
    const c = await RawClient.connect(broker!.port);
    const d = (await c.control(1000, { topics: [TOPIC] })) as { topics: { partitions: { partition: number; highWatermark: number }[] }[] };
    for (const p of d.topics[0].partitions) events.push({ kind: "watermark", partition: partitionKey(TOPIC, p.partition), highWatermark: p.highWatermark, atMs: now() });
    c.close();
    // A high watermark never goes back (on one node it is the durable offset).
    const hwSeen = new Map<string, number>();
    const watermarkRegressions: string[] = [];
    for (const e of events) {
      if (e.kind !== "watermark") continue;
      const before = hwSeen.get(e.partition) ?? -1;
      if (e.highWatermark < before) watermarkRegressions.push(`${e.partition}: ${before} -> ${e.highWatermark} at ${Math.round(e.atMs)} ms`);
      hwSeen.set(e.partition, Math.max(before, e.highWatermark));
    }
    const report = checkCommits(events);
    return {
      watermarkRegressions, report, commits, brokerKills, memberKills, reads: report.counts.reads, elapsedMs: Math.round(now()) };
  } finally {
    observing = false;
    for (const c of children.values()) c.kill("SIGKILL");
    if (broker !== null) await (broker as BrokerProcess).cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

