import { afterEach, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { PRODUCER_ID_BLOCK_SIZE, PRODUCER_IDS_PER_BROKER } from "./engine_limits.ts";
import { PRODUCER_EPOCH_MAX, ProducerIds } from "./producer_ids.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function dataDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-pid-"));
  dirs.push(d);
  return d;
}
async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SluiceError) return e.code;
    throw e;
  }
  throw new Error("expected a SluiceError");
}

test("ids are unique, concurrent calls included, and a restart never hands out one given before", async () => {
  const dir = dataDir();
  let ids = await ProducerIds.open(dir);
  const first = await Promise.all(Array.from({ length: 5 }, () => ids.init({})));
  expect(first.map((r) => r.producerId)).toEqual([0, 1, 2, 3, 4]);
  expect(first.every((r) => r.producerEpoch === 0)).toBe(true);
  // The block's end was made durable before the first id of it went out.
  ids = await ProducerIds.open(dir);
  expect(ids.issuedBound).toBe(PRODUCER_ID_BLOCK_SIZE);
  expect(await ids.init({})).toEqual({ producerId: PRODUCER_ID_BLOCK_SIZE, producerEpoch: 0 });
  ids = await ProducerIds.open(dir);
  expect((await ids.init({})).producerId).toBe(2 * PRODUCER_ID_BLOCK_SIZE);
});

test("an issued id with its epoch gets the next epoch; past the last epoch a new id; unknown ids, bad epochs and transactional ids are refused", async () => {
  const ids = await ProducerIds.open(dataDir());
  const a = await ids.init({ producerId: -1, producerEpoch: -1 });
  expect(await ids.init({ producerId: a.producerId, producerEpoch: 0 })).toEqual({ producerId: a.producerId, producerEpoch: 1 });
  expect((await ids.init({ producerId: a.producerId, producerEpoch: PRODUCER_EPOCH_MAX })).producerId).not.toBe(a.producerId);
  expect(await codeOf(ids.init({ producerId: 5_000, producerEpoch: 0 }))).toBe(ErrorCode.UNKNOWN_PRODUCER_ID);
  expect(await codeOf(ids.init({ producerId: a.producerId, producerEpoch: -1 }))).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
  expect(await codeOf(ids.init({ producerEpoch: 3 }))).toBe(ErrorCode.INVALID_REQUEST);
  expect(await codeOf(ids.init({ transactionalId: "tx-1" }))).toBe(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
});

test("a damaged producer-ids file refuses the start (starting over could reuse an id)", async () => {
  const dir = dataDir();
  const ids = await ProducerIds.open(dir);
  await ids.init({});
  const file = path.join(dir, "meta", "producer-ids");
  const bytes = fs.readFileSync(file);
  bytes[3] ^= 1;
  fs.writeFileSync(file, bytes);
  await expect(ProducerIds.open(dir)).rejects.toThrow(/producer-ids is damaged/);
});

test("in a cluster each broker hands out ids from its own range: two brokers never give the same id", async () => {
  const one = await ProducerIds.open(dataDir(), 1);
  const two = await ProducerIds.open(dataDir(), 2);
  const a = await Promise.all(Array.from({ length: 3 }, () => one.init({})));
  const b = await Promise.all(Array.from({ length: 3 }, () => two.init({})));
  expect(a.map((r) => r.producerId)).toEqual([PRODUCER_IDS_PER_BROKER, PRODUCER_IDS_PER_BROKER + 1, PRODUCER_IDS_PER_BROKER + 2]);
  expect(b.map((r) => r.producerId)).toEqual([2 * PRODUCER_IDS_PER_BROKER, 2 * PRODUCER_IDS_PER_BROKER + 1, 2 * PRODUCER_IDS_PER_BROKER + 2]);
  // An id of another broker's range was never issued here.
  expect(await codeOf(two.init({ producerId: a[0].producerId, producerEpoch: 0 }))).toBe(ErrorCode.UNKNOWN_PRODUCER_ID);
  // A single node's data directory joining as broker 3 continues in range 3, past every id it gave before.
  const dir = dataDir();
  const single = await ProducerIds.open(dir);
  expect((await single.init({})).producerId).toBe(0);
  const joined = await ProducerIds.open(dir, 3);
  expect((await joined.init({})).producerId).toBe(3 * PRODUCER_IDS_PER_BROKER);
  // The last range ends at 2^53: one more is refused at open.
  await expect(ProducerIds.open(dataDir(), 2 ** 20)).rejects.toThrow(/range/);
});
