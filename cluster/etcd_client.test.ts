// The etcd client against real etcd processes: kv, transactions, leases,
// typed errors, fail-over between members, and watches that resume after
// their member dies and re-read after a compaction.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { ETCD_WAIT, type EtcdCluster, freePorts, startEtcd } from "../test/support/etcd.ts";
import { letTimePass, pollUntil, waitFor } from "../test/support/wait_for.ts";
import { EtcdClient } from "./etcd_client.ts";
import { EtcdErrorCode, EtcdLeaseExpiredError, EtcdUnreachableError } from "./etcd_errors.ts";
import { EtcdWatch, type WatchEvent } from "./etcd_watch.ts";
import { cmp, type KeyValue, op } from "./etcd_wire.ts";
import { LeaseKeeper } from "./lease_keeper.ts";

let one: EtcdCluster;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  one = await startEtcd({ members: 1 });
});
afterAll(async () => {
  await one?.stop();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let seq = 0;
const fresh = (name: string) => `/t/${process.pid}/${++seq}/${name}`;

function track(watch: EtcdWatch): EtcdWatch {
  cleanups.push(() => watch.close());
  return watch;
}

describe("etcd client, one member", () => {
  test("put, range by key and prefix, delete: values and revisions as etcd keeps them", async () => {
    const client = new EtcdClient({ endpoints: one.endpoints });
    const dir = fresh("kv/");
    const a = await client.put(`${dir}a`, "ä=1");
    const b = await client.put(`${dir}b`, "2");
    expect(b.revision).toBe(a.revision + 1);
    const got = await client.get(`${dir}a`);
    expect(got).toMatchObject({ key: `${dir}a`, value: "ä=1", createRevision: a.revision, modRevision: a.revision, version: 1, lease: "0" });
    const all = await client.range(dir, { prefix: true });
    expect(all.kvs.map((kv) => kv.key)).toEqual([`${dir}a`, `${dir}b`]);
    expect(all.revision).toBeGreaterThanOrEqual(b.revision);
    // A prefix range does not reach a sibling that only shares the string prefix.
    await client.put(`${dir.slice(0, -1)}x`, "sibling");
    expect((await client.range(dir, { prefix: true })).count).toBe(2);
    expect((await client.deleteRange(dir, { prefix: true })).deleted).toBe(2);
    expect(await client.get(`${dir}a`)).toBeUndefined();
  });

  test("txn on create_revision == 0 succeeds once; the second gets the failure branch with the holder", async () => {
    const client = new EtcdClient({ endpoints: one.endpoints });
    const key = fresh("once");
    const create = (value: string) =>
      client.txn({ compare: [cmp.createRevisionIs(key, 0)], success: [op.put(key, value)], failure: [op.range(key)] });
    const first = await create("first");
    expect(first.succeeded).toBe(true);
    expect(first.results[0]).toMatchObject({ op: "put" });
    const second = await create("second");
    expect(second.succeeded).toBe(false);
    const r = second.results[0];
    expect(r.op === "range" ? r.kvs[0].value : undefined).toBe("first");
    // mod_revision CAS: a stale revision loses, the current one wins.
    const kv = (await client.get(key))!;
    const stale = await client.txn({ compare: [cmp.modRevisionIs(key, kv.modRevision - 1)], success: [op.put(key, "x")] });
    expect(stale.succeeded).toBe(false);
    const cas = await client.txn({ compare: [cmp.modRevisionIs(key, kv.modRevision)], success: [op.put(key, "cas")] });
    expect(cas.succeeded).toBe(true);
    expect((await client.get(key))!.value).toBe("cas");
  });

  test("a lease carries its keys: revoke deletes them; keepalive and put on a dead lease are LEASE_EXPIRED", async () => {
    const client = new EtcdClient({ endpoints: one.endpoints });
    const lease = await client.leaseGrant(10);
    expect(lease.ttlSeconds).toBe(10);
    const key = fresh("leased");
    await client.put(key, "v", { lease: lease.id });
    expect((await client.get(key))!.lease).toBe(lease.id);
    expect((await client.leaseKeepAlive(lease.id)).ttlSeconds).toBe(10);
    await client.leaseRevoke(lease.id);
    expect(await client.get(key)).toBeUndefined();
    const ka = await client.leaseKeepAlive(lease.id).catch((e) => e);
    expect(ka).toBeInstanceOf(EtcdLeaseExpiredError);
    const put = await client.put(key, "v", { lease: lease.id }).catch((e) => e);
    expect(put.code).toBe(EtcdErrorCode.LEASE_EXPIRED);
    await client.leaseRevoke(lease.id); // already gone: not an error
  });

  test("no member listening: ETCD_UNREACHABLE within the call's deadline, naming the endpoint", async () => {
    const [port] = await freePorts(1);
    const client = new EtcdClient({ endpoints: [`http://127.0.0.1:${port}`], callTimeoutMs: 600, attemptTimeoutMs: 200 });
    const started = performance.now();
    const e = await client.get("/x").catch((err) => err);
    const tookMs = performance.now() - started;
    expect(e).toBeInstanceOf(EtcdUnreachableError);
    expect(e.code).toBe(EtcdErrorCode.UNREACHABLE);
    expect(e.message).toContain(`127.0.0.1:${port}`);
    expect(tookMs).toBeGreaterThanOrEqual(550);
    expect(tookMs).toBeLessThan(3_000);
  });

  test("closing a watch whose etcd is unreachable returns at once, not after the call's deadline", async () => {
    // A listener that hangs up on every connection: etcd unreachable, and each attempt of the client counted.
    let attempts = 0;
    const hangUp = net.createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => hangUp.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => hangUp.close(() => resolve())));
    const port = (hangUp.address() as net.AddressInfo).port;
    const client = new EtcdClient({ endpoints: [`http://127.0.0.1:${port}`] });
    const troubles: string[] = [];
    const watch = EtcdWatch.start(client, "/nowhere/", { prefix: true }, { onSnapshot: () => {}, onEvents: () => {}, onTrouble: (m) => troubles.push(m) });
    await waitFor(() => attempts >= 2, { what: "the snapshot read to be retrying" });
    const closingAt = performance.now();
    await watch.close();
    expect(performance.now() - closingAt).toBeLessThan(500);
    expect(troubles).toEqual([]); // closing is not trouble
  });

  test("a watch delivers the snapshot, then every change in order, deletes included", async () => {
    const client = new EtcdClient({ endpoints: one.endpoints });
    const dir = fresh("w/");
    await client.put(`${dir}a`, "1");
    let snapshot: KeyValue[] | undefined;
    const events: WatchEvent[] = [];
    track(EtcdWatch.start(client, dir, { prefix: true }, { onSnapshot: (kvs) => (snapshot = kvs), onEvents: (evs) => events.push(...evs) }));
    await waitFor(() => snapshot !== undefined, { ...ETCD_WAIT, what: "snapshot" });
    expect(snapshot!.map((kv) => kv.value)).toEqual(["1"]);
    await client.put(`${dir}b`, "2");
    await client.put(`${dir}a`, "3");
    await client.deleteRange(`${dir}b`);
    await waitFor(() => events.length >= 3, { ...ETCD_WAIT, what: "three events" });
    expect(events.map((e) => `${e.type} ${e.kv.key.slice(dir.length)}=${e.kv.value}`)).toEqual(["put b=2", "put a=3", "delete b="]);
    expect(events[0].kv.modRevision).toBeLessThan(events[2].kv.modRevision);
  });

  test("a watch from a compacted revision re-reads the prefix, then follows it", async () => {
    const client = new EtcdClient({ endpoints: one.endpoints });
    const dir = fresh("c/");
    const first = await client.put(`${dir}a`, "1");
    await client.put(`${dir}a`, "2");
    const last = await client.put(`${dir}b`, "3");
    await client.compact(last.revision);
    const snapshots: { kvs: KeyValue[]; revision: number }[] = [];
    const events: WatchEvent[] = [];
    const troubles: string[] = [];
    const watch = track(
      EtcdWatch.start(client, dir, { prefix: true, fromRevision: first.revision }, {
        onSnapshot: (kvs, revision) => snapshots.push({ kvs, revision }),
        onEvents: (evs) => events.push(...evs),
        onTrouble: (m) => troubles.push(m),
      }),
    );
    await waitFor(() => snapshots.length === 1, { ...ETCD_WAIT, what: "a snapshot after the compaction" });
    expect(snapshots[0].kvs.map((kv) => `${kv.key.slice(dir.length)}=${kv.value}`)).toEqual(["a=2", "b=3"]);
    expect(snapshots[0].revision).toBeGreaterThanOrEqual(last.revision);
    expect(troubles.some((t) => t.includes("compacted"))).toBe(true);
    expect(events).toEqual([]); // the compacted history is not replayed as events
    await client.put(`${dir}c`, "4");
    await waitFor(() => events.length === 1, { ...ETCD_WAIT, what: "the change after the snapshot" });
    expect(events[0].kv.value).toBe("4");
    expect(watch.stats.snapshots).toBe(1);
  });
});

describe("lease keeper", () => {
  test("keeps a 2 s lease alive past three TTLs; revoke ends it and deletes its keys", async () => {
    const client = new EtcdClient({ endpoints: one.endpoints });
    const lost: string[] = [];
    const keeper = await LeaseKeeper.grant(client, { ttlSeconds: 2, onLost: (r) => lost.push(r) });
    cleanups.push(() => keeper.revoke());
    const key = fresh("kept");
    await client.put(key, "v", { lease: keeper.id });
    await letTimePass(3 * 2_000); // the behaviour under test: the keeper holds the 2 s lease across three TTLs
    expect(lost).toEqual([]);
    expect(keeper.alive).toBe(true);
    expect(await client.get(key)).toBeDefined();
    await keeper.revoke();
    expect(keeper.alive).toBe(false);
    expect(await client.get(key)).toBeUndefined();
    expect(lost).toEqual([]); // revoking is not losing
  });

  test("a lease revoked behind the keeper's back is reported lost at the next keepalive", async () => {
    const client = new EtcdClient({ endpoints: one.endpoints });
    const lost: string[] = [];
    const keeper = await LeaseKeeper.grant(client, { ttlSeconds: 2, onLost: (r) => lost.push(r) });
    cleanups.push(() => keeper.revoke());
    await client.leaseRevoke(keeper.id);
    await waitFor(() => lost.length === 1, { ...ETCD_WAIT, what: "lost", timeoutMs: 3_000 });
    expect(lost[0]).toContain("gone");
    expect(keeper.alive).toBe(false);
  });
});

describe("lease keeper deadline", () => {
  test("etcd silent (member paused): suspended at the local deadline, not lost; lost when etcd answers that the lease expired", async () => {
    const client = new EtcdClient({ endpoints: one.endpoints });
    const lost: string[] = [];
    const suspended: string[] = [];
    const keeper = await LeaseKeeper.grant(client, { ttlSeconds: 2, onLost: (r) => lost.push(r), onSuspended: (r) => suspended.push(r) });
    cleanups.push(() => keeper.revoke());
    const pausedAt = performance.now();
    one.pause(0);
    try {
      await waitFor(() => suspended.length === 1, { ...ETCD_WAIT, what: "suspended", timeoutMs: 5_000 });
      expect(performance.now() - pausedAt).toBeLessThan(2_000 + 1_000);
      expect(suspended[0]).toContain("deadline");
      expect(keeper.alive).toBe(false);
      expect(lost).toEqual([]); // silence is not an answer
      const expiredAt = pausedAt + 2_000 + 1_000; // by etcd's clock too
      // The lease's TTL elapsing with etcd silent is the behaviour under test: only then may etcd answer that it is gone.
      await letTimePass(expiredAt - performance.now());
    } finally {
      one.resume(0);
    }
    await waitFor(() => lost.length === 1, { ...ETCD_WAIT, what: "lost", timeoutMs: 10_000 });
    expect(lost[0]).toContain("gone");
    expect(keeper.alive).toBe(false);
  });

  test("a stalled process sees its deadline passed on its first look, before any timer runs", async () => {
    const client = new EtcdClient({ endpoints: one.endpoints });
    const keeper = await LeaseKeeper.grant(client, { ttlSeconds: 2 });
    cleanups.push(() => keeper.revoke());
    expect(keeper.alive).toBe(true);
    const stallUntil = keeper.deadlineMs + 50;
    while (performance.now() < stallUntil) {
      // the event loop is blocked: no keepalive, no timer (as under SIGSTOP)
    }
    expect(keeper.alive).toBe(false);
  });
});

/** A member's own id, as its response headers carry it. */
async function memberId(endpoint: string): Promise<string> {
  const res = await fetch(`${endpoint}/v3/maintenance/status`, { method: "POST", body: "{}" });
  const body = (await res.json()) as { header: { member_id: string } };
  return body.header.member_id;
}

describe("etcd client, three members", () => {
  let three: EtcdCluster;
  beforeAll(async () => {
    three = await startEtcd({ members: 3 });
  });
  afterAll(async () => {
    await three?.stop();
  });

  test("a paused etcd member (even the Raft leader) costs no session: keepalives reach the others before the deadline", async () => {
    for (const which of ["follower", "leader"] as const) {
      const probe = new EtcdClient({ endpoints: three.endpoints.filter((_, i) => three.members[i].running) });
      const statuses = await Promise.all(
        three.endpoints.map(async (ep, i) => (three.members[i].running ? { i, ...(await probe.statusOf(ep)), self: await memberId(ep) } : undefined)),
      );
      const live = statuses.filter((x) => x !== undefined);
      const target = live.find((x) => (which === "leader" ? x!.leader === x!.self : x!.leader !== x!.self))!;
      // The keeper's client prefers the member that will be paused.
      const client = new EtcdClient({ endpoints: [three.endpoints[target.i], ...three.endpoints.filter((_, i) => i !== target.i)] });
      const lost: string[] = [];
      const keeper = await LeaseKeeper.grant(client, { ttlSeconds: 2, onLost: (r) => lost.push(r) });
      three.pause(target.i);
      try {
        // Two TTLs passing with the member paused is the behaviour under test (the session must outlive them);
        // a loss ends the wait early, and fails below.
        await pollUntil(() => lost.length > 0, { timeoutMs: 2 * 2_000, everyMs: 50 });
      } finally {
        three.resume(target.i);
      }
      expect({ which, lost }).toEqual({ which, lost: [] });
      // A Raft election can outlast the local deadline: then the session was suspended, and resumes now.
      await waitFor(() => keeper.alive, { ...ETCD_WAIT, what: "alive", timeoutMs: 5_000 });
      expect(keeper.suspended).toBe(false);
      await keeper.revoke();
    }
  });

  test("a watch whose member stops answering without closing the connection (SIGSTOP) moves to another member", async () => {
    const client = new EtcdClient({ endpoints: three.endpoints.filter((_, i) => three.members[i].running) });
    const dir = fresh("stopped/");
    const events: WatchEvent[] = [];
    let snapshots = 0;
    const watch = track(EtcdWatch.start(client, dir, { prefix: true }, { onSnapshot: () => snapshots++, onEvents: (evs) => events.push(...evs) }));
    await waitFor(() => snapshots === 1 && watch.stats.streams === 1 && watch.endpoint !== undefined, { ...ETCD_WAIT, what: "watching" });
    const victim = three.endpoints.indexOf(watch.endpoint!);
    three.pause(victim);
    try {
      const writer = new EtcdClient({ endpoints: three.endpoints.filter((_, i) => i !== victim && three.members[i].running) });
      await writer.put(`${dir}a`, "1");
      // The stream is silent, not broken: the idle probe notices and the watch reconnects elsewhere.
      await waitFor(() => events.length === 1, { what: "the event through another member", timeoutMs: 15_000, everyMs: 50 });
      expect(watch.stats.streams).toBe(2);
      expect(watch.endpoint).not.toBe(three.endpoints[victim]);
    } finally {
      three.resume(victim);
    }
  });

  test("a handler that throws is reported and the watch goes on", async () => {
    const client = new EtcdClient({ endpoints: three.endpoints.filter((_, i) => three.members[i].running) });
    const dir = fresh("throw/");
    const seen: string[] = [];
    const troubles: string[] = [];
    let snapshots = 0;
    track(
      EtcdWatch.start(client, dir, { prefix: true }, {
        onSnapshot: () => snapshots++,
        onEvents: (evs) => {
          seen.push(...evs.map((e) => e.kv.value));
          if (evs.some((e) => e.kv.value === "boom")) throw new Error("handler bug");
        },
        onTrouble: (m) => troubles.push(m),
      }),
    );
    await waitFor(() => snapshots === 1, { ...ETCD_WAIT, what: "the snapshot (changes after it come as events)" });
    await client.put(`${dir}a`, "boom");
    await waitFor(() => troubles.some((t) => t.includes("handler bug")), { ...ETCD_WAIT, what: "trouble" });
    await client.put(`${dir}b`, "after");
    await waitFor(() => seen.includes("after"), { ...ETCD_WAIT, what: "the next event" });
    expect(seen).toEqual(["boom", "after"]);
  });

  test("a watch resumes on another member after its member is killed, with no change lost or repeated; calls fail over too", async () => {
    const client = new EtcdClient({ endpoints: three.endpoints });
    const dir = fresh("ha/");
    const events: WatchEvent[] = [];
    let snapshots = 0;
    const watch = track(
      EtcdWatch.start(client, dir, { prefix: true }, { onSnapshot: () => snapshots++, onEvents: (evs) => events.push(...evs) }),
    );
    await waitFor(() => snapshots === 1 && watch.endpoint !== undefined && watch.stats.streams === 1, { ...ETCD_WAIT, what: "watch on a member" });
    await client.put(`${dir}0`, "0");
    await waitFor(() => events.length === 1, { ...ETCD_WAIT, what: "first event" });
    const victim = three.endpoints.indexOf(watch.endpoint!);
    expect(victim).toBeGreaterThanOrEqual(0);
    await three.kill(victim);
    // Writes go on (the client skips the dead member) while the watch reconnects.
    for (let i = 1; i <= 20; i++) await client.put(`${dir}${i}`, String(i));
    await waitFor(() => events.length >= 21, { ...ETCD_WAIT, what: "all 21 events", timeoutMs: 20_000 });
    expect(events.map((e) => e.kv.value)).toEqual(Array.from({ length: 21 }, (_, i) => String(i)));
    expect(watch.stats.streams).toBeGreaterThanOrEqual(2);
    expect(watch.endpoint).not.toBe(three.endpoints[victim]);
    expect(snapshots).toBe(1); // resumed from its revision, not re-read
  });
});

describe("etcd member without a Raft leader", () => {
  test("a watch on a member that lost its quorum is ended by etcd (hasleader), not left silently stale", async () => {
    const three = await startEtcd({ members: 3 });
    try {
      const client = new EtcdClient({ endpoints: [three.endpoints[0]] });
      const troubles: string[] = [];
      let snapshots = 0;
      const watch = EtcdWatch.start(client, fresh("q/"), { prefix: true }, { onSnapshot: () => snapshots++, onEvents: () => {}, onTrouble: (m) => troubles.push(m) });
      try {
        await waitFor(() => snapshots === 1 && watch.stats.streams === 1, { ...ETCD_WAIT, what: "watching" });
        await three.kill(1);
        await three.kill(2);
        // etcd checks for a leader every election timeout and cancels after three misses (~4 s here).
        await waitFor(() => troubles.length > 0, { what: "the stream ended by etcd", timeoutMs: 15_000, everyMs: 50 });
        expect(troubles[0]).toMatch(/ended the watch stream|cancelled the watch|no leader/);
      } finally {
        await watch.close();
      }
    } finally {
      await three.stop();
    }
  });
});
