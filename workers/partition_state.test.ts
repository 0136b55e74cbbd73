import { describe, expect, test } from "bun:test";
import { PartitionStateTable, createStateTable, emptyStateView } from "./partition_state.ts";
import { StateField } from "./shared_layout.ts";

describe("partition state table", () => {
  test("a written row reads back field for field, and rows do not overlap", () => {
    const table = new PartitionStateTable(createStateTable(4));
    const a = {
      logStartOffset: 10, logEndOffset: 2 ** 52, highWatermark: 900, durableOffset: 900, bytesIn: 123456789,
      messagesIn: 1000, bytesOut: 5, messagesOut: 6, sizeBytes: 7, segments: 3, online: true, errorCode: 0,
    };
    const b = { ...a, logStartOffset: 1, logEndOffset: 2, highWatermark: 2, online: false, errorCode: 56 };
    table.write(1, a);
    table.write(2, b);
    expect(table.read(1)).toEqual(a);
    expect(table.read(2)).toEqual(b);
    expect(table.read(0)).toEqual(emptyStateView());
    expect(table.read(3)).toEqual(emptyStateView());
    expect(table.highWatermark(1)).toBe(900);
    expect(table.field(2, StateField.ERROR_CODE)).toBe(56);
    // read() can fill a caller's object instead of allocating.
    const out = emptyStateView();
    expect(table.read(1, out)).toBe(out);
    expect(out.logEndOffset).toBe(2 ** 52);
  });

  test("generations count opens of a slot", () => {
    const table = new PartitionStateTable(createStateTable(2));
    expect(table.generation(1)).toBe(0);
    expect(table.beginGeneration(1)).toBe(1);
    expect(table.beginGeneration(1)).toBe(2);
    expect(table.generation(0)).toBe(0);
  });

  test("slots outside the table and foreign buffers are refused", () => {
    const table = new PartitionStateTable(createStateTable(2));
    expect(() => table.read(2)).toThrow(RangeError);
    expect(() => table.write(-1, emptyStateView())).toThrow(RangeError);
    expect(() => table.read(0.5)).toThrow(RangeError);
    expect(() => new PartitionStateTable(new SharedArrayBuffer(1024))).toThrow(/magic/);
    expect(() => createStateTable(0)).toThrow(RangeError);
  });

  test("a reader never sees a half-written row while a worker rewrites it", async () => {
    const sab = createStateTable(8);
    const table = new PartitionStateTable(sab);
    const worker = new Worker(new URL("./testing/state_writer_worker.ts", import.meta.url).href, { type: "module" });
    let finished = false;
    const done = new Promise<void>((resolve, reject) => {
      worker.onmessage = () => {
        finished = true;
        resolve();
      };
      worker.onerror = (e) => reject(e);
    });
    const count = 3_000_000;
    worker.postMessage({ sab, slot: 5, count });
    const v = emptyStateView();
    let reads = 0;
    let torn = 0;
    let last = 0;
    let backwards = 0;
    let midway = 0;
    const deadline = Date.now() + 30_000;
    while (!finished && Date.now() < deadline) {
      for (let i = 0; i < 10_000; i++) {
        table.read(5, v);
        const k = v.logStartOffset;
        if (
          v.logEndOffset !== k || v.highWatermark !== k || v.durableOffset !== k || v.bytesIn !== k || v.messagesIn !== k ||
          v.bytesOut !== k || v.messagesOut !== k || v.sizeBytes !== k || v.segments !== k || v.errorCode !== k ||
          (k !== 0 && v.online !== ((k & 1) === 1))
        ) torn++;
        if (k < last) backwards++;
        if (k > 0 && k < count) midway++;
        last = k;
        reads++;
      }
      await Promise.resolve();
      await new Promise((r) => setImmediate(r));
    }
    await done;
    await worker.terminate();
    expect(torn).toBe(0);
    expect(backwards).toBe(0);
    // The reads must have overlapped the writes, or the test proves nothing.
    expect(midway).toBeGreaterThan(1000);
    expect(table.read(5).logEndOffset).toBe(count);
  }, 60_000);
});
