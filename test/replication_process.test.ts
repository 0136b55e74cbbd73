// Replication between real broker processes (`sluice serve --replica-role-api`,
// ports 0 on 127.0.0.1), roles set through api 1004: a follower killed with
// SIGKILL and restarted on its data dir catches up to a segment file
// byte-identical to the leader's; a SIGSTOPped follower holds acks=all until
// the ISR is shrunk.

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { ErrorCode } from "../protocol/errors.ts";
import { decodeProduceResponse } from "../protocol/messages/produce.ts";
import { encodeBatch } from "../protocol/record_batch.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { RawClient, produceBody } from "./support/raw_client.ts";
import { waitFor } from "./support/wait_for.ts";

const TOPIC = "rp";
const ROLE_API = 1004;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function broker(id: number, dataDir?: string): Promise<{ b: BrokerProcess; c: RawClient }> {
  const b = await startBroker({ dataDir, args: ["--broker-id", String(id), "--replica-role-api", "true", "--kafka-port", "-1", "--workers", "1"] });
  cleanups.push(() => b.cleanup());
  const c = await RawClient.connect(b.port);
  cleanups.push(() => c.close());
  return { b, c };
}

interface RoleState {
  role: string;
  highWatermark: number;
  logEndOffset: number;
  durableOffset: number;
  truncations?: number;
}

async function role(c: RawClient, body: Record<string, unknown>): Promise<RoleState> {
  const r = (await c.control(ROLE_API, { topic: TOPIC, partition: 0, ...body })) as RoleState & { errorCode?: number; message?: string };
  if (r.errorCode !== undefined) throw new Error(`role api: ${r.errorCode} ${r.message}`);
  return r;
}

async function produce(c: RawClient, value: string, acks: number): Promise<{ errorCode: number; baseOffset: bigint }> {
  const res = await c.request(0, produceBody({ topic: TOPIC, acks, timeoutMs: 30_000, partitions: [{ index: 0, records: encodeBatch([{ value }]) }] }));
  const p = decodeProduceResponse(res.body).topics[0].partitions[0];
  return { errorCode: p.errorCode, baseOffset: p.baseOffset };
}

function segmentFiles(b: BrokerProcess): Map<string, Buffer> {
  const dir = path.join(b.dataDir, "topics", TOPIC, "0");
  const out = new Map<string, Buffer>();
  for (const name of fs.readdirSync(dir).sort()) if (name.endsWith(".log")) out.set(name, fs.readFileSync(path.join(dir, name)));
  return out;
}

describe("replication between broker processes", () => {
  test("a follower killed with SIGKILL and restarted on its data dir catches up, byte-identical", async () => {
    const one = await broker(1);
    const two = await broker(2);
    for (const { c } of [one, two]) expect(await c.control(19, { topics: [{ name: TOPIC, partitions: 1 }] })).toMatchObject({ topics: [{ errorCode: 0 }] });
    await role(one.c, { role: "leader", epoch: 1, isr: [1, 2], replicas: [1, 2], minInsyncReplicas: 1 });
    await role(two.c, { role: "follower", epoch: 1, leader: { host: "127.0.0.1", port: one.b.port } });
    for (let i = 0; i < 20; i++) expect((await produce(one.c, `a${i}`, -1)).errorCode).toBe(ErrorCode.NONE);
    // acks=all with broker 2 in the ISR: it has all 20 durably.
    expect((await role(two.c, { role: "state" })).durableOffset).toBe(20);
    await two.b.kill9();
    // The leader goes on alone (the ISR shrunk by the API), acks=1.
    await role(one.c, { role: "leader", epoch: 1, isr: [1], replicas: [1, 2], minInsyncReplicas: 1 });
    for (let i = 0; i < 20; i++) expect((await produce(one.c, `b${i}`, 1)).errorCode).toBe(ErrorCode.NONE);
    const again = await broker(2, two.b.dataDir);
    await role(again.c, { role: "follower", epoch: 1, leader: { host: "127.0.0.1", port: one.b.port } });
    await waitFor(async () => (await role(again.c, { role: "state" })).durableOffset === 40, { what: "the restarted follower caught up" });
    await waitFor(async () => (await role(one.c, { role: "state" })).durableOffset === 40, { what: "the leader durable" });
    expect(segmentFiles(again.b)).toEqual(segmentFiles(one.b));
  }, 90_000);

  test("a SIGSTOPped follower holds acks=all; with the ISR shrunk it is answered; below min.insync.replicas refused", async () => {
    const one = await broker(1);
    const two = await broker(2);
    const three = await broker(3);
    for (const { c } of [one, two, three]) await c.control(19, { topics: [{ name: TOPIC, partitions: 1 }] });
    await role(one.c, { role: "leader", epoch: 1, isr: [1, 2, 3], replicas: [1, 2, 3], minInsyncReplicas: 2 });
    for (const f of [two, three]) await role(f.c, { role: "follower", epoch: 1, leader: { host: "127.0.0.1", port: one.b.port } });
    expect((await produce(one.c, "first", -1)).errorCode).toBe(ErrorCode.NONE);
    process.kill(three.b.pid, "SIGSTOP");
    cleanups.push(() => {
      try {
        process.kill(three.b.pid, "SIGCONT");
      } catch {
        // already gone
      }
    });
    let answered = false;
    const held = produce(one.c, "held", -1).then((r) => ((answered = true), r));
    await waitFor(async () => (await role(two.c, { role: "state" })).durableOffset === 2, { what: "broker 2 has the held batch durably" });
    // Broker 2 reports it in its next fetch; the answer still waits for broker 3.
    await waitFor(async () => (await role(one.c, { role: "state" })).durableOffset === 2, { what: "the leader has it durably" });
    expect(answered).toBe(false);
    expect((await role(one.c, { role: "state" })).highWatermark).toBe(1);
    await role(one.c, { role: "leader", epoch: 1, isr: [1, 2], replicas: [1, 2, 3], minInsyncReplicas: 2 });
    expect((await held).errorCode).toBe(ErrorCode.NONE);
    await role(one.c, { role: "leader", epoch: 1, isr: [1], replicas: [1, 2, 3], minInsyncReplicas: 2 });
    expect((await produce(one.c, "refused", -1)).errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
  }, 90_000);
});
