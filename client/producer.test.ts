// Producer logic against a FakeLink that holds produce requests until the
// test answers them: batching, linger, pipelining across partitions, retry
// order within a partition, typed failures, and buffer backpressure.

import { describe, expect, test } from "bun:test";
import { Writer } from "../protocol/codec.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { writeProduceResponse } from "../protocol/messages/produce.ts";
import { decodeBatches } from "../protocol/record_batch.ts";
import { BufferExhaustedError, ClientErrorCode, ConnectionError } from "./errors.ts";
import { kafkaKeyPartition } from "./partitioners.ts";
import { Producer, type ProducerOptions } from "./producer.ts";
import { FakeLink, type HeldProduce } from "./testing/fake_link.ts";
import { waitFor } from "../test/support/wait_for.ts";

function producer(link: FakeLink, options: Partial<ProducerOptions> = {}): Producer {
  return new Producer({ link, lingerMs: 0, retryBackoffMs: 1, retryBackoffMsMax: 2, ...options });
}

const value = (n: number) => `v${n}`.padEnd(100, ".");

/** One acknowledged record, so the topic's partition count is cached (the send() fast path). */
async function warmUp(p: Producer, link: FakeLink): Promise<void> {
  const sent = p.send("t", { value: "warm up" });
  await waitFor(() => p.bufferedBytes > 0);
  void p.flush();
  await waitFor(() => link.outstanding.length === 1);
  link.outstanding[0].ok();
  await sent;
}

describe("batching", () => {
  test("a partition's records are cut into batches of about batchBytes, all sent in order", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { batchBytes: 1024, lingerMs: 10_000 });
    await warmUp(p, link);
    const sends = Array.from({ length: 50 }, (_, i) => p.send("t", { value: value(i) }));
    let flushed = false;
    p.flush().then(() => (flushed = true));
    await waitFor(() => {
      for (const h of link.outstanding) h.ok();
      return flushed;
    });
    const sent = link.produces.slice(1);
    const batches = sent.flatMap((h) => h.request.topics[0].partitions.flatMap((x) => decodeBatches(x.records)));
    expect(batches.length).toBeGreaterThan(3);
    for (const b of batches) expect(b.size).toBeLessThanOrEqual(1024 + 140);
    const results = await Promise.all(sends);
    expect(results.map((r) => r.offset)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
    expect(sent.flatMap((h) => h.values().get(0)!)).toEqual(Array.from({ length: 50 }, (_, i) => value(i)));
  });

  test("linger holds a lone record for lingerMs before sending it", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { lingerMs: 40 });
    const started = Date.now();
    const sent = p.send("t", { value: "x" });
    await new Promise((r) => setTimeout(r, 5));
    expect(link.produces.length).toBe(0);
    await waitFor(() => link.produces.length === 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    link.produces[0].ok();
    expect((await sent).offset).toBe(0n);
  });

  test("records sent in one turn share one request across partitions", async () => {
    const link = new FakeLink({ t: 4 });
    const p = producer(link);
    const sends = [0, 1, 2, 3].map((partition) => p.send("t", { value: "x", partition }));
    await waitFor(() => link.produces.length > 0);
    await new Promise((r) => setTimeout(r, 5));
    expect(link.produces.length).toBe(1);
    expect(link.produces[0].request.topics[0].partitions.map((x) => x.index).sort()).toEqual([0, 1, 2, 3]);
    link.produces[0].ok();
    expect((await Promise.all(sends)).map((r) => r.partition)).toEqual([0, 1, 2, 3]);
  });
});

describe("pipelining and ordering", () => {
  test("different partitions have requests in flight at the same time", async () => {
    const link = new FakeLink({ t: 3 });
    const p = producer(link);
    const a = p.send("t", { value: "a", partition: 0 });
    await waitFor(() => link.outstanding.length === 1);
    const b = p.send("t", { value: "b", partition: 1 });
    await waitFor(() => link.outstanding.length === 2);
    const c = p.send("t", { value: "c", partition: 2 });
    await waitFor(() => link.outstanding.length === 3);
    for (const h of [...link.outstanding].reverse()) h.ok(); // answered out of order
    expect((await Promise.all([a, b, c])).map((r) => r.partition)).toEqual([0, 1, 2]);
  });

  test("with retries a partition has one request in flight, and a failed one is retried before later records", async () => {
    const link = new FakeLink({ t: 1 });
    // Not idempotent: the retry carries the later records too (idempotent: see "idempotence" below).
    const p = producer(link, { retries: 3, idempotent: false });
    const first = p.send("t", { value: "first" });
    await waitFor(() => link.outstanding.length === 1);
    const later = [p.send("t", { value: "second" }), p.send("t", { value: "third" })];
    await new Promise((r) => setTimeout(r, 10));
    expect(link.outstanding.length).toBe(1); // the later records wait behind the one in flight

    link.outstanding[0].failPartitions(ErrorCode.NOT_LEADER_OR_FOLLOWER); // retriable
    await waitFor(() => link.outstanding.length === 1);
    const retry = link.outstanding[0];
    expect(retry.values().get(0)).toEqual(["first", "second", "third"]);
    retry.ok();
    const offsets = (await Promise.all([first, ...later])).map((r) => r.offset);
    expect(offsets).toEqual([0n, 1n, 2n]);
  });

  test("a lost connection is retried with the same records", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { retries: 2 });
    const sent = p.send("t", { value: "x" });
    await waitFor(() => link.outstanding.length === 1);
    link.outstanding[0].fail(new ConnectionError("lost"));
    await waitFor(() => link.outstanding.length === 1);
    expect(link.outstanding[0].values().get(0)).toEqual(["x"]);
    link.outstanding[0].ok();
    expect((await sent).offset).toBe(0n);
  });

  test("retries are bounded: the last error's code reaches send()", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { retries: 2 });
    const sent = p.send("t", { value: "x" });
    for (let attempt = 0; attempt < 3; attempt++) {
      await waitFor(() => link.outstanding.length === 1);
      link.outstanding[0].failPartitions(ErrorCode.LEADER_NOT_AVAILABLE);
    }
    const error = await sent.then(() => undefined, (e) => e);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error.code).toBe(ErrorCode.LEADER_NOT_AVAILABLE);
    expect(link.produces.length).toBe(3);
  });

  test("a non-retriable error fails the records at once with its code", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { retries: 5 });
    const sent = p.send("t", { value: "x" });
    await waitFor(() => link.outstanding.length === 1);
    link.outstanding[0].failPartitions(ErrorCode.MESSAGE_TOO_LARGE);
    await expect(sent).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
    expect(link.produces.length).toBe(1);
  });
});

describe("unbatched: one record per batch and per request, retries off", () => {
  const unbatched: Partial<ProducerOptions> = {
    batchBytes: 128,
    requestBytesMax: 128,
    retries: 0,
    produceRequestsInflightMax: 64,
    partitionInflightMax: 64,
  };

  test("many requests per partition in flight, answered out of order: every record gets its own offset, the broker gets every record in order", async () => {
    const link = new FakeLink({ t: 3 });
    const p = producer(link, unbatched);
    await warmUp(p, link);
    const count = 300;
    const sends = Array.from({ length: count }, (_, i) => p.send("t", { value: value(i), partition: i % 3 }));
    let answered = 0;
    await waitFor(() => {
      // Newest first: a request's batch bytes must not depend on batches answered before it.
      for (const h of [...link.outstanding].reverse()) {
        h.ok();
        answered++;
      }
      return answered === count;
    });
    const sent = link.produces.slice(1);
    expect(sent.length).toBe(count); // one request per record
    for (let partition = 0; partition < 3; partition++) {
      const values = sent.flatMap((h) => h.values().get(partition) ?? []);
      expect(values).toEqual(Array.from({ length: count }, (_, i) => i).filter((i) => i % 3 === partition).map(value));
    }
    const results = await Promise.all(sends);
    expect(results.every((r, i) => r.partition === i % 3)).toBe(true);
    // Answered newest first, each partition's offsets run backwards from the send order; each is still unique and exact.
    for (let partition = 0; partition < 3; partition++) {
      const offsets = results.filter((r) => r.partition === partition).map((r) => Number(r.offset));
      expect(new Set(offsets).size).toBe(count / 3);
      expect(Math.min(...offsets)).toBe(partition === 0 ? 1 : 0);
    }
    expect(p.bufferedBytes).toBe(0);
    await p.close();
  });
});

describe("reading produce responses", () => {
  test("results are matched by topic and partition whatever their order; a partition left out fails, an unasked one is ignored", async () => {
    const link = new FakeLink({ a: 2, b: 2 });
    const p = producer(link, { retries: 0 });
    for (const topic of ["a", "b"]) {
      const warm = p.send(topic, { value: "warm up" });
      await waitFor(() => link.outstanding.length === 1);
      link.outstanding[0].ok();
      await warm;
    }
    const sends = [
      p.send("a", { value: "a0", partition: 0 }),
      p.send("b", { value: "b1", partition: 1 }),
      p.send("a", { value: "a1", partition: 1 }),
      p.send("b", { value: "b0", partition: 0 }),
    ].map((s) => s.then((r) => r, (e: SluiceError) => e));
    await waitFor(() => link.outstanding.length === 1);
    const held = link.outstanding[0];
    // One request, each topic written once.
    expect(held.request.topics.map((t) => [t.name, t.partitions.map((x) => x.index)])).toEqual([["a", [0, 1]], ["b", [1, 0]]]);
    const ok = (index: number, baseOffset: bigint) => ({ index, errorCode: 0, baseOffset, logAppendTimeMs: -1n, logStartOffset: 0n });
    held.answer({
      topics: [
        { name: "zzz", partitions: [ok(0, 99n)] },
        { name: "b", partitions: [ok(0, 70n), { ...ok(1, -1n), errorCode: ErrorCode.CORRUPT_MESSAGE }] },
        { name: "a", partitions: [ok(1, 50n)] },
      ],
    });
    const [a0, b1, a1, b0] = await Promise.all(sends);
    expect(a0).toBeInstanceOf(SluiceError);
    expect((a0 as SluiceError).code).toBe(ErrorCode.UNKNOWN_SERVER_ERROR);
    expect((b1 as SluiceError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(a1).toEqual({ topic: "a", partition: 1, offset: 50n });
    expect(b0).toEqual({ topic: "b", partition: 0, offset: 70n });
    await p.close();
  });

  test("a response that does not parse fails every record of the request", async () => {
    const link = new FakeLink({ t: 2 });
    const p = producer(link, { retries: 0 });
    await warmUp(p, link);
    const sends = [0, 1].map((partition) => p.send("t", { value: "x", partition }).then(() => undefined, (e: SluiceError) => e));
    await waitFor(() => link.outstanding.length === 1);
    const held = link.outstanding[0];
    const out = new Writer();
    const result = (index: number) => ({ index, errorCode: 0, baseOffset: 5n, logAppendTimeMs: -1n, logStartOffset: 0n });
    writeProduceResponse(out, { topics: [{ name: "t", partitions: [result(0), result(1)] }] });
    held.answer(out.finish().slice(0, out.length - 1)); // the last partition's result is cut short
    const errors = await Promise.all(sends);
    expect(errors.every((e) => e instanceof SluiceError)).toBe(true);
    await p.close();
  });
});

describe("partitioning", () => {
  test("keyed records go where Kafka's default partitioner puts them; keyless ones rotate", async () => {
    const link = new FakeLink({ t: 7 });
    const p = producer(link);
    const keys = ["alpha", "beta", "gamma", "delta", "21", "foobar"];
    const keyed = keys.map((key) => p.send("t", { key, value: "x" }));
    const keyless = Array.from({ length: 7 }, () => p.send("t", { value: "y" }));
    await waitFor(() => link.produces.length > 0);
    for (const h of link.produces) h.ok();
    const keyedResults = await Promise.all(keyed);
    expect(keyedResults.map((r) => r.partition)).toEqual(keys.map((k) => kafkaKeyPartition(k, 7)));
    expect(new Set((await Promise.all(keyless)).map((r) => r.partition)).size).toBe(7);
  });

  test("a partition beyond the topic's count is refused with UNKNOWN_TOPIC_OR_PARTITION", async () => {
    const p = producer(new FakeLink({ t: 2 }));
    await expect(p.send("t", { value: "x", partition: 2 })).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
  });

  test("acks=0 resolves once written, with offset -1", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { acks: 0 });
    const r = await p.send("t", { value: "x" });
    expect(r.offset).toBe(-1n);
    expect(link.produces[0].request.acks).toBe(0);
  });
});

describe("backpressure", () => {
  test("a full buffer makes send() wait, in order, and time out with BufferExhaustedError", async () => {
    const link = new FakeLink({ t: 1 });
    // Each 100-byte record reserves ~130 bytes: three fit, the fourth does not.
    const p = producer(link, { bufferBytesMax: 400, sendTimeoutMs: 150 });
    await warmUp(p, link);
    const held = [p.send("t", { value: value(0) }), p.send("t", { value: value(1) }), p.send("t", { value: value(2) })];
    expect(p.bufferedBytes).toBeGreaterThan(300);
    const started = Date.now();
    const blocked = p.send("t", { value: value(3) });
    const error = await blocked.then(() => undefined, (e) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(error).toBeInstanceOf(BufferExhaustedError);
    expect(error.code).toBe(ClientErrorCode.BUFFER_EXHAUSTED);
    expect(p.bufferedBytes).toBeLessThanOrEqual(400);

    // Room comes back when the broker acknowledges: a waiting send then goes through.
    const waiting = p.send("t", { value: value(4) });
    await waitFor(() => link.outstanding.length === 1);
    link.outstanding[0].ok();
    await Promise.all(held);
    await waitFor(() => link.outstanding.length === 1);
    link.outstanding[0].ok();
    expect((await waiting).offset).toBe(4n);
  });

  test("a record larger than the whole buffer fails at once", async () => {
    const p = producer(new FakeLink({ t: 1 }), { bufferBytesMax: 200 });
    await expect(p.send("t", { value: "x".repeat(500) })).rejects.toMatchObject({ code: ClientErrorCode.INVALID_ARGUMENT });
  });
});

describe("flush, close and sendBatch", () => {
  test("sendBatch resolves once every record is acknowledged, with the offset ranges", async () => {
    const link = new FakeLink({ t: 2 });
    const p = producer(link, { batchBytes: 2048 });
    const messages = Array.from({ length: 100 }, (_, i) => ({ value: value(i), partition: i % 2 }));
    const done = p.sendBatch("t", messages);
    await waitFor(() => link.outstanding.length > 0);
    // Keep answering until every request is acknowledged.
    let result: Awaited<typeof done> | undefined;
    done.then((r) => (result = r));
    await waitFor(() => {
      for (const h of link.outstanding) h.ok();
      return result !== undefined;
    });
    expect(result!.count).toBe(100);
    const perPartition = new Map<number, number>();
    for (const r of result!.ranges) perPartition.set(r.partition, (perPartition.get(r.partition) ?? 0) + r.count);
    expect(perPartition.get(0)).toBe(50);
    expect(perPartition.get(1)).toBe(50);
  });

  test("close() flushes what was accepted, then refuses new sends with CLIENT_CLOSED", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { lingerMs: 10_000 });
    const sent = p.send("t", { value: "x" });
    const closed = p.close();
    await waitFor(() => link.outstanding.length === 1);
    link.outstanding[0].ok();
    await closed;
    expect((await sent).offset).toBe(0n);
    expect(link.closed).toBe(true);
    await expect(p.send("t", { value: "y" })).rejects.toMatchObject({ code: ClientErrorCode.CLIENT_CLOSED });
  });

  test("an invalid topic name is refused at the edge", async () => {
    const p = producer(new FakeLink({ t: 1 }));
    await expect(p.send("bad name!", { value: "x" })).rejects.toMatchObject({ code: ErrorCode.INVALID_TOPIC_EXCEPTION });
    // The broker's rule (protocol/topic_name.ts): '.' and '..' would name its data dir's own directories.
    await expect(p.send(".", { value: "x" })).rejects.toMatchObject({ code: ErrorCode.INVALID_TOPIC_EXCEPTION });
    await expect(p.sendBatch("..", [{ value: "x" }])).rejects.toMatchObject({ code: ErrorCode.INVALID_TOPIC_EXCEPTION });
  });
});

describe("settling", () => {
  test("send() and sendBatch() records sharing a batch each get their own offset", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { lingerMs: 10_000 });
    await warmUp(p, link); // offset 0
    const one = p.send("t", { value: "one" });
    const many = p.sendBatch("t", [{ value: "m1" }, { value: "m2" }, { value: "m3" }]);
    await new Promise((r) => setTimeout(r, 1)); // sendBatch appends after its metadata lookup
    const two = p.send("t", { value: "two" });
    void p.flush();
    await waitFor(() => link.outstanding.length === 1);
    expect(link.outstanding[0].values().get(0)).toEqual(["one", "m1", "m2", "m3", "two"]);
    link.outstanding[0].ok();
    expect((await one).offset).toBe(1n);
    expect((await many).ranges).toEqual([{ partition: 0, baseOffset: 2n, count: 3 }]);
    expect((await two).offset).toBe(5n);
  });

  test("a failed batch rejects every send() and sendBatch() record in it", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { lingerMs: 10_000, retries: 0 });
    await warmUp(p, link);
    const one = p.send("t", { value: "one" }).then(() => undefined, (e) => e);
    const many = p.sendBatch("t", [{ value: "m1" }, { value: "m2" }]).then(() => undefined, (e) => e);
    await new Promise((r) => setTimeout(r, 1));
    void p.flush();
    await waitFor(() => link.outstanding.length === 1);
    link.outstanding[0].failPartitions(ErrorCode.CORRUPT_MESSAGE);
    expect(await one).toMatchObject({ code: ErrorCode.CORRUPT_MESSAGE });
    expect(await many).toMatchObject({ code: ErrorCode.CORRUPT_MESSAGE });
    expect(p.bufferedBytes).toBe(0);
  });
});

describe("waiting for buffer space", () => {
  test("sends and a sendBatch waiting for room are appended in call order as acks free the buffer", async () => {
    const link = new FakeLink({ t: 1 });
    // Room for about three records: everything else waits in the budget's queue.
    const p = producer(link, { bufferBytesMax: 400, lingerMs: 0 });
    await warmUp(p, link);
    const first = Array.from({ length: 10 }, (_, i) => p.send("t", { value: value(i) }));
    const batch = p.sendBatch("t", Array.from({ length: 10 }, (_, i) => ({ value: value(10 + i) })));
    const last = Array.from({ length: 10 }, (_, i) => p.send("t", { value: value(20 + i) }));
    expect(p.bufferedBytes).toBeLessThanOrEqual(400);
    let all: unknown;
    Promise.all([...first, batch, ...last]).then((x) => (all = x));
    await waitFor(() => {
      for (const h of link.outstanding) h.ok();
      return all !== undefined;
    });
    const values = link.produces.slice(1).flatMap((h) => h.values().get(0) ?? []);
    expect(values).toEqual(Array.from({ length: 30 }, (_, i) => value(i)));
    expect((await Promise.all(first)).map((r) => r.offset)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(1 + i)));
    expect((await batch).count).toBe(10);
    expect((await Promise.all(last)).map((r) => r.offset)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(21 + i)));
    expect(p.bufferedBytes).toBe(0);
  });

  test("close() fails sends still waiting for room with CLIENT_CLOSED after its timeout", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { bufferBytesMax: 400, lingerMs: 0 });
    await warmUp(p, link);
    const sends = Array.from({ length: 6 }, (_, i) => p.send("t", { value: value(i) }).then(() => "ok", (e) => e.code));
    await p.close({ timeoutMs: 50 });
    const outcomes = await Promise.all(sends);
    expect(outcomes.filter((o) => o === ClientErrorCode.CLIENT_CLOSED).length).toBe(6);
    expect(p.bufferedBytes).toBe(0);
  });
});

describe("string records", () => {
  test("a long string reserves its bound only until appended; one that fits the buffer exactly is not refused by the bound", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { bufferBytesMax: 2_500, lingerMs: 10_000 });
    await warmUp(p, link);
    // 2,000 ASCII characters: bound 6,000 bytes (over the buffer), 2,000 really.
    const sent = p.send("t", { value: "a".repeat(2_000) });
    expect(p.bufferedBytes).toBeLessThan(2_020);
    expect(p.bufferedBytes).toBeGreaterThanOrEqual(2_000);
    void p.flush();
    await waitFor(() => link.outstanding.length === 1);
    expect(link.outstanding[0].values().get(0)).toEqual(["a".repeat(2_000)]);
    link.outstanding[0].ok();
    expect((await sent).offset).toBe(1n);
    expect(p.bufferedBytes).toBe(0);
  });
});

/** Producer id, epoch and base sequence of each batch of partition 0 in a held request. */
function stamps(h: HeldProduce): { id: number; epoch: number; seq: number }[] {
  const out: { id: number; epoch: number; seq: number }[] = [];
  for (const t of h.request.topics) {
    for (const part of t.partitions) {
      for (const b of decodeBatches(part.records)) out.push({ id: Number(b.header.producerId), epoch: b.header.producerEpoch, seq: b.header.baseSequence });
    }
  }
  return out;
}

describe("idempotence (on by default)", () => {
  test("the producer id comes first; sequences count records per partition; a retry keeps its stamp and goes alone, ahead of new batches", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { retries: 3 });
    const first = [p.send("t", { value: "a" }), p.send("t", { value: "b" })];
    await waitFor(() => link.outstanding.length === 1);
    expect(link.initProducerIdCalls).toEqual([{ producerId: undefined, producerEpoch: undefined }]);
    expect(stamps(link.outstanding[0])).toEqual([{ id: 1, epoch: 0, seq: 0 }]);
    const later = [p.send("t", { value: "c" }), p.send("t", { value: "d" })];
    await new Promise((r) => setTimeout(r, 10));
    link.outstanding[0].failPartitions(ErrorCode.NOT_LEADER_OR_FOLLOWER); // retriable
    await waitFor(() => link.outstanding.length === 1);
    // The retry: the same batch, the same sequence, without the records sent after it.
    expect(link.outstanding[0].values().get(0)).toEqual(["a", "b"]);
    expect(stamps(link.outstanding[0])).toEqual([{ id: 1, epoch: 0, seq: 0 }]);
    link.outstanding[0].ok();
    await waitFor(() => link.outstanding.length === 1);
    expect(link.outstanding[0].values().get(0)).toEqual(["c", "d"]);
    expect(stamps(link.outstanding[0])).toEqual([{ id: 1, epoch: 0, seq: 2 }]);
    link.outstanding[0].ok();
    expect((await Promise.all([...first, ...later])).map((r) => r.offset)).toEqual([0n, 1n, 2n, 3n]);
    expect(p.producerIdAndEpoch).toEqual({ producerId: 1, producerEpoch: 0 });
    await p.close();
  });

  test("a batch that fails for good leaves a hole: the next epoch is asked for and sequences start at 0 again", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { retries: 3 });
    await warmUp(p, link);
    const lost = p.send("t", { value: "x" });
    await waitFor(() => link.outstanding.length === 1);
    expect(stamps(link.outstanding[0])).toEqual([{ id: 1, epoch: 0, seq: 1 }]);
    link.outstanding[0].failPartitions(ErrorCode.MESSAGE_TOO_LARGE); // not retriable
    await expect(lost).rejects.toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
    const next = p.send("t", { value: "y" });
    await waitFor(() => link.outstanding.length === 1);
    expect(link.initProducerIdCalls.at(-1)).toEqual({ producerId: 1, producerEpoch: 0 });
    expect(stamps(link.outstanding[0])).toEqual([{ id: 1, epoch: 1, seq: 0 }]);
    link.outstanding[0].ok();
    await next;
    await p.close();
  });

  test("idempotent: false sends batches without a producer id; idempotent with retries 0 or acks 0 is refused", async () => {
    const link = new FakeLink({ t: 1 });
    const p = producer(link, { idempotent: false });
    const sent = p.send("t", { value: "v" });
    await waitFor(() => link.outstanding.length === 1);
    expect(stamps(link.outstanding[0])).toEqual([{ id: -1, epoch: -1, seq: -1 }]);
    expect(link.initProducerIdCalls.length).toBe(0);
    link.outstanding[0].ok();
    await sent;
    await p.close();
    expect(() => producer(link, { idempotent: true, retries: 0 })).toThrow(/idempotent needs retries > 0/);
    expect(() => producer(link, { idempotent: true, acks: 0 })).toThrow(/idempotent needs retries > 0/);
  });
});
