// Broker registration and the controller election against real etcd:
// registration under a lease, a duplicate id refused, lease expiry removing a
// broker, one controller at a time, and a deposed controller's writes refused
// by etcd (the fence), also across the death of an etcd member.

import { describe, expect, test } from "bun:test";
import { ETCD_WAIT } from "../test/support/etcd.ts";
import { useEtcd } from "../test/support/use_etcd.ts";
import { waitFor } from "../test/support/wait_for.ts";
import { DuplicateBrokerIdError, listBrokers, registerBroker } from "./broker_registration.ts";
import { ClusterKeys } from "./cluster_keys.ts";
import { ClusterMember } from "./cluster_member.ts";
import { readClusterStatus } from "./cluster_status.ts";
import { ControllerElection, ControllerFencedError } from "./controller_election.ts";
import { EtcdClient } from "./etcd_client.ts";
import { op } from "./etcd_wire.ts";
import { LeaseKeeper } from "./lease_keeper.ts";

const TTL = 2;
const etcd = useEtcd();
const { cleanups } = etcd;
const logs: string[] = [];
const log = (line: string) => logs.push(line);

let seq = 0;
const clusterName = () => `t${process.pid}-${++seq}`;

async function member(client: EtcdClient, name: string, id: number, port = 9000 + id): Promise<ClusterMember> {
  const m = await ClusterMember.start({
    client,
    clusterName: name,
    leaseTtlSeconds: TTL,
    broker: { id, host: "127.0.0.1", port, httpPort: port + 1, rack: id % 2 === 0 ? "r0" : null },
    log,
  });
  cleanups.push(() => m.close());
  return m;
}

async function candidate(client: EtcdClient, keys: ClusterKeys, brokerId: number) {
  const lease = await LeaseKeeper.grant(client, { ttlSeconds: TTL });
  const election = new ControllerElection({ client, keys, lease, brokerId });
  cleanups.push(async () => {
    await election.close();
    await lease.revoke();
  });
  return { lease, election };
}

describe("broker registration", () => {
  test("a broker registers host, ports and rack under its lease; status lists it", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const name = clusterName();
    const m = await member(client, name, 3);
    await waitFor(() => m.isController, { ...ETCD_WAIT, what: "the only broker becomes controller" });
    const kv = (await client.get(m.keys.broker(3)))!;
    expect(kv.lease).toBe(m.lease!.id);
    expect(JSON.parse(kv.value)).toMatchObject({ id: 3, host: "127.0.0.1", port: 9003, httpPort: 9004, rack: null });
    const status = await readClusterStatus(client, m.keys);
    expect(status.brokers.map((b) => b.id)).toEqual([3]);
    expect(status.controller).toEqual({ brokerId: 3, epoch: m.controllerEpoch! });
  });

  test("a second live broker with the same id is refused, naming the holder; the first stays registered", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const name = clusterName();
    await member(client, name, 1, 7001);
    const started = performance.now();
    const e = await member(client, name, 1, 7101).catch((err) => err);
    expect(e).toBeInstanceOf(DuplicateBrokerIdError);
    expect(e.message).toContain("broker id 1 is already registered by the broker at 127.0.0.1:7001");
    // It waited out one TTL in case the holder was a crashed earlier run, and no longer.
    expect(performance.now() - started).toBeGreaterThan(TTL * 1000 - 500);
    expect(performance.now() - started).toBeLessThan(TTL * 1000 + 3_000);
    const { brokers } = await listBrokers(client, new ClusterKeys(name));
    expect(brokers.map((b) => `${b.id}@${b.port}`)).toEqual(["1@7001"]);
  });

  test("lease expiry removes a broker (a crash); the same id can then register again", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const name = clusterName();
    const keys = new ClusterKeys(name);
    const crashed = await member(client, name, 5, 7005);
    await member(client, name, 6, 7006);
    await crashed.abandon(); // no revoke, no more keepalives: etcd must notice by itself
    const abandonedAt = performance.now();
    await waitFor(async () => (await listBrokers(client, keys)).brokers.every((b) => b.id !== 5), { what: "broker 5 gone", timeoutMs: 10_000, everyMs: 50 });
    const goneAfterMs = performance.now() - abandonedAt;
    expect(goneAfterMs).toBeGreaterThan(TTL * 1000 - 1_000); // not before its lease could have expired
    expect(goneAfterMs).toBeLessThan(TTL * 1000 + 2_000);
    expect((await listBrokers(client, keys)).brokers.map((b) => b.id)).toEqual([6]);
    await member(client, name, 5, 7105);
    expect((await listBrokers(client, keys)).brokers.map((b) => `${b.id}@${b.port}`)).toEqual(["5@7105", "6@7006"]);
  });

  test("a registration whose first answer was lost is recognised as its own on retry", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const keys = new ClusterKeys(clusterName());
    const lease = await LeaseKeeper.grant(client, { ttlSeconds: TTL });
    cleanups.push(() => lease.revoke());
    const info = { id: 9, host: "127.0.0.1", port: 7009, httpPort: 7010, rack: null, startedAtMs: Date.now() };
    const first = await registerBroker(client, keys, lease, info);
    const again = await registerBroker(client, keys, lease, info); // as if the first txn's answer never came
    expect(again.createRevision).toBe(first.createRevision);
  });
});

describe("controller election and fencing", () => {
  test("of two candidates exactly one wins; the epoch is the election key's create revision; both agree", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const keys = new ClusterKeys(clusterName());
    const a = await candidate(client, keys, 1);
    const b = await candidate(client, keys, 2);
    const [wa, wb] = await Promise.all([a.election.campaign(), b.election.campaign()]);
    expect(wa !== wb).toBe(true);
    const winner = wa ? a : b;
    const kv = (await client.get(keys.controller))!;
    expect(winner.election.epoch).toBe(kv.createRevision);
    expect(kv.lease).toBe(winner.lease.id);
    a.election.start();
    b.election.start();
    await waitFor(() => a.election.controller?.epoch === kv.createRevision && b.election.controller?.epoch === kv.createRevision, { ...ETCD_WAIT, what: "both see the controller" });
    expect(a.election.isController !== b.election.isController).toBe(true);
  });

  test("a controller whose lease expired is fenced: its write is refused by etcd after the other broker won", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const keys = new ClusterKeys(clusterName());
    const a = await candidate(client, keys, 1);
    expect(await a.election.campaign()).toBe(true);
    const epochA = a.election.epoch!;
    const b = await candidate(client, keys, 2);
    b.election.start(); // b waits for the key to be free
    // While a holds the key, its conditioned writes land.
    const ok = await a.election.fencedTxn({ compare: [], success: [op.put(keys.topic("t1"), "from-a")] });
    expect(ok.succeeded).toBe(true);
    // a stops renewing (a long pause, as far as etcd can tell): its lease expires and b is elected.
    a.lease.abandon();
    await waitFor(() => b.election.isController, { what: "b is controller", timeoutMs: 10_000, everyMs: 20 });
    const epochB = b.election.epoch!;
    expect(epochB).toBeGreaterThan(epochA);
    // a still believes it is controller (it never watched), and tries to write: etcd refuses.
    expect(a.election.epoch).toBe(epochA);
    const e = await a.election.fencedTxn({ compare: [], success: [op.put(keys.topic("t1"), "stale-a")] }).catch((err) => err);
    expect(e).toBeInstanceOf(ControllerFencedError);
    expect(e.message).toContain(`broker 2 is controller at epoch ${epochB}`);
    expect(a.election.epoch).toBeUndefined(); // and it counts itself deposed
    expect((await client.get(keys.topic("t1")))!.value).toBe("from-a");
    // b's writes land.
    expect((await b.election.fencedTxn({ compare: [], success: [op.put(keys.topic("t1"), "from-b")] })).succeeded).toBe(true);
  });

  test("a fenced write with no controller at all is refused too; the caller's own failed compare is not a fence", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const keys = new ClusterKeys(clusterName());
    const a = await candidate(client, keys, 1);
    expect(await a.election.campaign()).toBe(true);
    // The caller's compare fails, the fence holds: succeeded false, no error, still controller.
    await client.put(keys.topic("x"), "v");
    const kv = (await client.get(keys.topic("x")))!;
    const r = await a.election.fencedTxn({ compare: [{ key: keys.topic("x"), target: "MOD", result: "EQUAL", modRevision: kv.modRevision - 1 }], success: [op.put(keys.topic("x"), "w")], failure: [op.range(keys.topic("x"))] });
    expect(r.succeeded).toBe(false);
    expect(r.results.length).toBe(1);
    expect(a.election.epoch).toBeDefined();
    // The lease is revoked (the key vanishes with it) and nobody else campaigns: still refused.
    await client.leaseRevoke(a.lease.id);
    const e = await a.election.fencedTxn({ compare: [], success: [op.put(keys.topic("x"), "late")] }).catch((err) => err);
    expect(e).toBeInstanceOf(ControllerFencedError);
    expect((await client.get(keys.topic("x")))!.value).toBe("v");
  });

  test("resign hands the controllership over at once (no TTL wait)", async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints });
    const name = clusterName();
    const first = await member(client, name, 1);
    await waitFor(() => first.isController, { ...ETCD_WAIT, what: "first is controller" });
    const second = await member(client, name, 2);
    await waitFor(() => second.controller?.brokerId === 1, { ...ETCD_WAIT, what: "second sees the controller" });
    const closedAt = performance.now();
    await first.close();
    await waitFor(() => second.isController, { what: "second is controller", timeoutMs: 5_000, everyMs: 10 });
    expect(performance.now() - closedAt).toBeLessThan(TTL * 1000 / 2);
    expect(second.controllerEpoch).toBeGreaterThan(0);
  });
});

describe("election across an etcd member's death", () => {
  const three = useEtcd({ members: 3 });

  test("the waiting candidate's watch moves to another member and it still takes over when the controller dies", async () => {
    const client1 = new EtcdClient({ endpoints: three.endpoints });
    // The second broker prefers another member, so killing "its" member leaves the first one's alone.
    const client2 = new EtcdClient({ endpoints: [...three.endpoints.slice(1), three.endpoints[0]] });
    const name = clusterName();
    const first = await member(client1, name, 1);
    await waitFor(() => first.isController, { ...ETCD_WAIT, what: "first is controller" });
    const second = await member(client2, name, 2);
    await waitFor(() => second.controller?.brokerId === 1, { ...ETCD_WAIT, what: "second sees the controller" });
    const epoch1 = first.controllerEpoch!;
    await three.cluster.kill(1); // client2's member: its watch and keepalives must move
    await first.abandon(); // the controller "crashes"
    await waitFor(() => second.isController, { what: "second is controller", timeoutMs: 15_000, everyMs: 20 });
    expect(second.controllerEpoch).toBeGreaterThan(epoch1);
    expect(second.sessions).toBe(1); // its own session survived the member's death
    const status = await readClusterStatus(client2, second.keys);
    expect(status.brokers.map((b) => b.id)).toEqual([2]);
    expect(status.controller?.brokerId).toBe(2);
  });
});
