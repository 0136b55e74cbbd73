// EIO on a follower's disk (docs/CLUSTER.md, failure table): once every
// fdatasync of one follower replica fails (SLUICE_FAULTS eioFile), the replica
// goes offline; it must stop counting as in sync, so the leader shrinks it out
// of the ISR after replica.lag.time.max.ms and acks=all produces go on with
// the two replicas left (min.insync.replicas 2). Three real broker processes
// and one etcd (support/cluster_harness.ts).

import { afterAll, beforeAll, expect, test } from "bun:test";
import fs from "node:fs";
import { Producer } from "../client/mod.ts";
import { describePartitions } from "./faults/support/broker_ops.ts";
import { eioFileOf } from "./cluster_faults/scenarios/fault_kinds.ts";
import { type ClusterHarness, startCluster } from "./support/cluster_harness.ts";
import { ETCD_WAIT } from "./support/etcd.ts";
import { waitFor } from "./support/wait_for.ts";

/** Above the follower's fetch wait: a follower that keeps fetching must still leave (below it, the gap between two fetches alone can shrink it). */
const LAG_TIME_MS = 2_000;
let c: ClusterHarness;

beforeAll(async () => {
  c = await startCluster({
    brokers: 3,
    brokerArgs: ["--replica-lag-time-max-ms", String(LAG_TIME_MS)],
    brokerEnv: (id, dir) => ({ SLUICE_FAULTS: JSON.stringify({ disk: { eioFile: eioFileOf(dir, id, "{partition}") } }) }),
  });
  await c.createTopic("disk", { partitions: 1, replicationFactor: 3, configs: { "min.insync.replicas": "2" } });
}, 60_000);

afterAll(async () => {
  await c?.cleanup();
});

test("a follower whose fdatasync fails leaves the ISR after the lag time; acks=all goes on without it", async () => {
  const producer = new Producer({ broker: c.bootstrap(), acks: "all", requestTimeoutMs: 2_000, ackTimeoutMs: 2_000, deliveryTimeoutMs: 60_000 });
  try {
    for (let i = 0; i < 5; i++) await producer.send("disk", { partition: 0, value: `before-${i}` });
    const state = (await c.partitionState("disk", 0))!;
    const follower = state.isr.find((id) => id !== state.leader)!;
    fs.writeFileSync(eioFileOf(c.dir, follower, 0), "");
    const during = producer.send("disk", { partition: 0, value: "during" });
    await waitFor(async () => (await describePartitions(c.broker(follower).listenerPort!, "disk"))[0].online === false, { ...ETCD_WAIT, what: "the follower's replica offline" });
    await waitFor(async () => !(await c.partitionState("disk", 0))!.isr.includes(follower), { ...ETCD_WAIT, what: `broker ${follower} out of the ISR` });
    expect((await during).offset).toBe(5n);
    expect((await c.partitionState("disk", 0))!.isr.length).toBe(2);
  } finally {
    await producer.close({ timeoutMs: 2_000 });
  }
}, 60_000);
