// The cluster fault harness itself (support/cluster_harness.ts) with real etcd
// and three real broker processes: every broker advertises its proxy
// (`--advertised-port`), so metadata names the proxies and clients work
// through them; leader and controller read from etcd agree with metadata;
// isolate() cuts a broker from etcd and from the other brokers (its session
// expires, the controller moves its leaderships away, a client cannot reach
// it), heal() lets it back (a new session, registered again); restart() brings
// a killed broker back on its data dir behind the same address.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ClusterHarness, startCluster } from "./support/cluster_harness.ts";
import { ETCD_WAIT } from "./support/etcd.ts";
import { waitFor, waitForValue } from "./support/wait_for.ts";
import { Admin, Producer } from "../client/mod.ts";

let c: ClusterHarness;

beforeAll(async () => {
  c = await startCluster({ brokers: 3, etcdMembers: 1 });
}, 60_000);

afterAll(async () => {
  await c?.cleanup();
});

describe("cluster fault harness", () => {
  test("brokers advertise their proxies; metadata, etcd and the harness agree; a producer works through the proxies", async () => {
    await c.createTopic("h", { partitions: 3, replicationFactor: 3 });
    const m = await c.admin().metadata(["h"]);
    expect(m.brokers.map((b) => `${b.nodeId}@${b.host}:${b.port}`).sort()).toEqual(c.ids.map((id) => `${id}@${c.broker(id).address}`).sort());
    for (const id of c.ids) expect(c.broker(id).inbound.port).not.toBe(c.broker(id).listenerPort);
    await waitFor(async () => {
      const now = await c.admin().metadata(["h"]);
      for (const p of now.topics[0].partitions) if (p.leader !== (await c.leaderOf("h", p.partition))) return false;
      return true;
    }, { ...ETCD_WAIT, what: "metadata leaders equal etcd's" });
    const producer = new Producer({ broker: c.bootstrap(), acks: "all", connectTimeoutMs: 1_000 });
    try {
      const acks = await Promise.all([0, 1, 2].map((partition) => producer.send("h", { partition, value: `v${partition}` })));
      expect(acks.map((a) => a.partition)).toEqual([0, 1, 2]);
    } finally {
      await producer.close();
    }
    // Every connection came in through the proxies.
    expect(c.ids.reduce((n, id) => n + c.broker(id).inbound.accepted, 0)).toBeGreaterThan(0);
  }, 60_000);

  test("isolate(): the broker loses its session and its leaderships, clients cannot reach it; heal(): it registers again", async () => {
    const victim = await c.waitForLeader("h", 0);
    const before = await c.partitionState("h", 0);
    const controllerBefore = await c.controllerId();
    c.isolate(victim);
    // etcd expires the session it can no longer keep alive: the registration goes, the controller moves partition 0.
    await waitFor(async () => !(await c.registeredBrokers()).includes(victim), { ...ETCD_WAIT, what: `broker ${victim}'s registration gone` });
    const newLeader = await c.waitForLeader("h", 0, (l) => l !== victim);
    expect((await c.partitionState("h", 0))!.leaderEpoch).toBeGreaterThan(before!.leaderEpoch);
    expect(newLeader).not.toBe(victim);
    if (controllerBefore === victim) expect(await c.waitForController((id) => id !== victim)).not.toBe(victim);
    // A client cannot reach the isolated broker: its proxy refuses the connection.
    const cut = new Admin({ broker: c.broker(victim).address, connectTimeoutMs: 500, requestTimeoutMs: 1_000, reconnectBackoffMs: 50, reconnectBackoffMsMax: 50 });
    const err = await cut.metadata([]).catch((e) => e);
    await cut.close();
    expect(err).toBeInstanceOf(Error);
    expect(c.broker(victim).inbound.refused).toBeGreaterThan(0);
    // Held, not closed: the followers' fetches to the victim (it led partition 0) on its own proxy, and its
    // own fetches as a follower (told apart by source process) on the others' proxies.
    expect(c.broker(victim).inbound.held).toBeGreaterThan(0);
    expect(c.ids.filter((id) => id !== victim).reduce((n, id) => n + c.broker(id).inbound.held, 0)).toBeGreaterThan(0);
    c.heal();
    await c.waitForRegistered(c.ids);
    expect(c.broker(victim).running).toBe(true);
  }, 60_000);

  test("kill9() and restart(): the broker comes back on its data dir behind the same advertised address", async () => {
    const id = c.ids[2];
    const address = c.broker(id).address;
    const pid = c.broker(id).pid;
    await c.broker(id).kill9();
    expect(c.broker(id).pid).toBeUndefined();
    await waitFor(async () => !(await c.registeredBrokers()).includes(id), { ...ETCD_WAIT, what: "the killed broker's session expired" });
    await c.broker(id).start();
    expect(c.broker(id).pid).not.toBe(pid);
    expect(c.broker(id).address).toBe(address);
    await c.waitForRegistered(c.ids);
    // The broker's own view of etcd may trail etcd by a watch event: wait until its metadata lists it.
    const listed = await waitForValue(async () => (await c.admin(address).metadata(["h"])).brokers.find((b) => b.nodeId === id), { ...ETCD_WAIT, what: "the restarted broker in its own metadata" });
    expect(listed.port).toBe(c.broker(id).inbound.port);
  }, 60_000);
});
