// acks=all produce through the engine of in-process brokers on 127.0.0.1:
// one node (no roles) against a leader with RF 2 or 3 replicating over
// ReplicaFetch (each broker with its own worker thread and data dir).
//
//   bun bench/replication_acks_all.ts [--batches 3000] [--records 10] [--inflight 64]
//
// Prints msgs/s and the ack latency median per setup, from one run each.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { encodeBatch } from "../protocol/record_batch.ts";
import { Broker } from "../engine/broker.ts";
import { parseBrokerConfig } from "../engine/broker_config.ts";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const TOPIC = "bench";

export interface ReplicationBenchResult {
  rf: number;
  msgsPerSec: number;
  ackP50Ms: number;
}

/** One setup: `rf` brokers (1 = one node, no roles), `batches` acks=all batches of `records`, `inflight` at a time. */
export async function runReplicationBench(rf: number, opts: { batches: number; records: number; inflight: number }): Promise<ReplicationBenchResult> {
  const { batches: BATCHES, records: RECORDS, inflight: INFLIGHT } = opts;
  const dirs: string[] = [];
  const brokers: Broker[] = [];
  try {
    for (let id = 1; id <= rf; id++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-repl-bench-"));
      dirs.push(dir);
      const b = await Broker.start(parseBrokerConfig({ dataDir: dir, host: "127.0.0.1", port: 0, httpPort: 0, kafkaPort: -1, workers: 1, brokerId: id }), { log: () => {} });
      await b.engine.createTopic(TOPIC, { partitions: 1 });
      brokers.push(b);
    }
    const ids = brokers.map((_, i) => i + 1);
    if (rf > 1) {
      await brokers[0].engine.becomeLeader(TOPIC, 0, { epoch: 1, isr: ids, replicas: ids, minInsyncReplicas: Math.min(2, rf) });
      for (const f of brokers.slice(1)) f.engine.becomeFollower(TOPIC, 0, { epoch: 1, leader: { host: "127.0.0.1", port: brokers[0].port } });
    }
    const batch = encodeBatch(Array.from({ length: RECORDS }, (_, i) => ({ value: `value-${i}`.padEnd(100, "x") })));
    const latencies: number[] = [];
    let sent = 0;
    let acked = 0;
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const pump = (): void => {
        while (sent < BATCHES && sent - acked < INFLIGHT) {
          const t0 = performance.now();
          sent++;
          const send = (): void => {
            const taken = brokers[0].engine.produce(TOPIC, 0, batch, -1, (err) => {
              if (err !== 0) return reject(new Error(`produce failed: ${err}`));
              latencies.push(performance.now() - t0);
              acked++;
              if (acked === BATCHES) resolve();
              else pump();
            });
            if (!taken) brokers[0].engine.onWritable(TOPIC, 0, send);
          };
          send();
        }
      };
      pump();
    });
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const p50 = latencies[Math.floor(latencies.length / 2)];
    return { rf, msgsPerSec: Math.round((BATCHES * RECORDS) / seconds), ackP50Ms: p50 };
  } finally {
    for (const b of brokers) await b.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const opts = { batches: arg("batches", 3000), records: arg("records", 10), inflight: arg("inflight", 64) };
  console.log(`bun bench/replication_acks_all.ts --batches ${opts.batches} --records ${opts.records} --inflight ${opts.inflight}`);
  for (const rf of [1, 2, 3]) {
    const r = await runReplicationBench(rf, opts);
    console.log(`RF ${rf}: ${r.msgsPerSec.toLocaleString()} msgs/s  ack p50 ${r.ackP50Ms.toFixed(1)} ms  (${opts.batches} batches of ${opts.records}, ${opts.inflight} in flight)`);
  }
}
