// Load reports: the sliding window's rates (pure), and against real etcd a
// member publishing under its session lease (outside the prefix the views
// watch), read back by the tools, gone with the session.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type EtcdCluster, startEtcd } from "../test/support/etcd.ts";
import { waitFor } from "../test/support/wait_for.ts";
import { ClusterKeys } from "./cluster_keys.ts";
import { ClusterMember } from "./cluster_member.ts";
import { LOAD_REPORT_PARTITIONS_MAX } from "./cluster_limits.ts";
import { EtcdClient } from "./etcd_client.ts";
import { encodeLoadReport, LoadWindow, type PartitionCounters, readLoadReports } from "./load_reports.ts";

const counters = (topic: string, partition: number, bytesIn: number, bytesOut: number, leader = true): PartitionCounters => ({
  topic,
  partition,
  leader,
  bytesIn,
  messagesIn: bytesIn / 100,
  bytesOut,
  messagesOut: bytesOut / 100,
  sizeBytes: 4096,
});

describe("the load window", () => {
  test("rates over the last minute: the oldest sample kept is at most a window old; a partition appears once seen twice", () => {
    const w = new LoadWindow(10_000, 60_000);
    expect(w.sample(1, 0, [counters("t", 0, 0, 0)]).partitions).toEqual([]);
    // 10 s later: 1,000 B/s in, 2,000 out.
    let r = w.sample(1, 10_000, [counters("t", 0, 10_000, 20_000), counters("t", 1, 0, 0)]);
    expect(r.partitions).toEqual([{ topic: "t", partition: 0, leader: true, bytesInPerSec: 1000, messagesInPerSec: 10, bytesOutPerSec: 2000, messagesOutPerSec: 20, sizeBytes: 4096 }]);
    expect(r.windowMs).toBe(10_000);
    // Then nothing for 60 s: the burst of the first 10 s leaves the window.
    for (let t = 20_000; t <= 70_000; t += 10_000) r = w.sample(1, t, [counters("t", 0, 10_000, 20_000), counters("t", 1, 0, 0)]);
    expect(r.windowMs).toBe(60_000);
    expect(r.partitions.find((p) => p.partition === 0)!.bytesInPerSec).toBe(0);
    // A replica reopened (counters back to zero) starts its window again instead of a negative rate.
    r = w.sample(1, 80_000, [counters("t", 0, 500, 0)]);
    expect(r.partitions).toEqual([]);
    r = w.sample(1, 90_000, [counters("t", 0, 10_500, 0)]);
    expect(r.partitions[0].bytesInPerSec).toBe(1000);
  });

  test("the busiest LOAD_REPORT_PARTITIONS_MAX are listed, the rest counted, and the report fits its byte bound", () => {
    const w = new LoadWindow(10_000);
    const n = LOAD_REPORT_PARTITIONS_MAX + 5;
    // The longest topic name there is (249 characters) and rates with every digit.
    const topic = "t".repeat(249);
    w.sample(7, 0, Array.from({ length: n }, (_, p) => counters(topic, p, 0, 0)));
    const r = w.sample(7, 10_000, Array.from({ length: n }, (_, p) => counters(topic, p, 1e12 + p * 1_000_000 + 0.7, 1e12 + p * 1_000_000 + 0.3)));
    expect(r.partitions.length).toBe(LOAD_REPORT_PARTITIONS_MAX);
    expect(r.omitted).toBe(5);
    expect(r.partitions[0].partition).toBe(n - 1);
    expect(() => encodeLoadReport(r)).not.toThrow();
  });
});

describe("load reports in etcd", () => {
  let etcd: EtcdCluster;
  beforeAll(async () => {
    etcd = await startEtcd({ members: 1 });
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  test("a member publishes its partitions' rates under its lease, outside the watched prefix; the report goes with the session", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const keys = new ClusterKeys(`load${process.pid}`);
    let bytes = 0;
    const member = await ClusterMember.start({
      client,
      clusterName: keys.cluster,
      leaseTtlSeconds: 2,
      broker: { id: 3, host: "127.0.0.1", port: 9003, kafkaPort: null, httpPort: 9103, rack: null },
      log: () => {},
      loadReport: {
        // 1 MB more on every sample: a steady rate.
        sample: () => [counters("hot", 0, (bytes += 1_000_000), 0)],
        intervalMs: 200,
      },
    });
    try {
      let reports = await readLoadReports(client, keys);
      await waitFor(async () => (reports = await readLoadReports(client, keys)).get(3)?.partitions.length === 1, { what: "broker 3's report" });
      const p = reports.get(3)!.partitions[0];
      expect(p.topic).toBe("hot");
      expect(p.bytesInPerSec).toBeGreaterThan(1_000_000);
      expect(keys.loadPrefix.startsWith(keys.root)).toBe(false);
      const kv = (await client.range(keys.load(3))).kvs[0];
      expect(kv.lease).toBe(member.lease!.id);
    } finally {
      await member.close();
    }
    expect((await readLoadReports(client, keys)).size).toBe(0);
  });
});
