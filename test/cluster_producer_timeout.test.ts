// A produce request that times out on the client makes the producer look the
// partition's leader up again (client/produce_sender.ts), as a lost connection
// does: a leader that is paused (SIGSTOP: its kernel still accepts
// connections, nothing answers) while etcd elects another must not get the
// retries. Three real broker processes and one etcd (support/cluster_harness.ts).

import { afterAll, beforeAll, expect, test } from "bun:test";
import { Producer } from "../client/mod.ts";
import { type ClusterHarness, startCluster } from "./support/cluster_harness.ts";

let c: ClusterHarness;

beforeAll(async () => {
  c = await startCluster({ brokers: 3 });
  await c.createTopic("pt", { partitions: 1, replicationFactor: 3 });
}, 60_000);

afterAll(async () => {
  await c?.cleanup();
});

test("after a request to a paused leader times out, the one retry goes to the new leader and is acknowledged", async () => {
  const leader = await c.waitForLeader("pt", 0);
  // Bootstrapped from the others only, so metadata lookups never wait on the paused broker.
  const producer = new Producer({
    broker: c.bootstrap([leader]),
    acks: "all",
    retries: 1,
    retryBackoffMs: 10,
    requestTimeoutMs: 1_000,
    ackTimeoutMs: 1_000,
    // No background metadata refresh during the test: only the timeout can send the retry elsewhere.
    metadataMaxAgeMs: 600_000,
    deliveryTimeoutMs: 60_000,
  });
  try {
    expect((await producer.send("pt", { partition: 0, value: "warm" })).offset).toBe(0n);
    c.broker(leader).pause();
    await c.waitForLeader("pt", 0, (l) => l !== leader);
    // Sent to the paused old leader (the producer's metadata still names it): it times out after
    // requestTimeoutMs + ackTimeoutMs; the single retry must find the new leader.
    const sent = await producer.send("pt", { partition: 0, value: "after" });
    expect(sent.offset).toBe(1n);
  } finally {
    c.broker(leader).resume();
    await producer.close({ timeoutMs: 5_000 });
  }
}, 60_000);
