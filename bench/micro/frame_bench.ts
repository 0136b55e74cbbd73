// Framing: the router's FrameParser over pipelined requests (whole chunks and
// split chunks) and the Produce/Fetch codecs around a batch.

import type { Bench } from "tinybench";
import { Writer } from "../../protocol/codec.ts";
import { FrameParser, beginRequestFrame, endFrame, encodeRequestFrame, readRequestHeader } from "../../protocol/frame.ts";
import { decodeFetchRequest, writeFetchRequest } from "../../protocol/messages/fetch.ts";
import { decodeProduceRequest, writeProduceRequest } from "../../protocol/messages/produce.ts";
import { encodeBatch } from "../../protocol/record_batch.ts";
import type { MicroOptions } from "./run.ts";

export function register(bench: Bench, opts: MicroOptions): void {
  const framesPerChunk = opts.small ? 8 : 64;
  const frameBody = new Uint8Array(100);
  const one = encodeRequestFrame({ apiKey: 1, apiVersion: 0, correlationId: 1 }, frameBody);
  const stream = new Uint8Array(one.length * framesPerChunk);
  for (let i = 0; i < framesPerChunk; i++) stream.set(one, i * one.length);

  let frames = 0;
  let correlation = 0;
  const parser = new FrameParser({
    kind: "request",
    onFrame: (f) => {
      frames++;
      correlation ^= readRequestHeader(f).correlationId;
    },
    onError: (e) => {
      throw e;
    },
  });

  const wholeName = `frame parse ${framesPerChunk}x${one.length} B, one chunk`;
  bench.add(wholeName, () => parser.push(stream));
  opts.bytesPerOp(wholeName, stream.length);

  // Chunks that cut frames at odd places: the gathering path.
  const chunkBytes = 1000;
  const chunks: Uint8Array[] = [];
  for (let p = 0; p < stream.length; p += chunkBytes) chunks.push(stream.subarray(p, Math.min(stream.length, p + chunkBytes)));
  const splitName = `frame parse ${framesPerChunk}x${one.length} B, ${chunkBytes} B chunks`;
  bench.add(splitName, () => {
    for (const c of chunks) parser.push(c);
  });
  opts.bytesPerOp(splitName, stream.length);

  const batch = encodeBatch(
    Array.from({ length: opts.small ? 10 : 160 }, () => ({ value: frameBody })),
    { firstTimestamp: 1_700_000_000_000 },
  );
  const produce = { acks: -1, timeoutMs: 30_000, topics: [{ name: "bench-topic", partitions: [{ index: 0, records: batch }] }] };
  const w = new Writer({ initialBytes: 64 * 1024 });
  const produceName = `produce request encode+frame (${batch.length} B batch)`;
  bench.add(produceName, () => {
    w.reset();
    const start = beginRequestFrame(w, { apiKey: 0, apiVersion: 0, correlationId: 7 });
    writeProduceRequest(w, produce);
    endFrame(w, start);
    return w.length;
  });
  opts.bytesPerOp(produceName, batch.length);

  w.reset();
  writeProduceRequest(w, produce);
  const produceBody = w.finish().slice();
  bench.add("produce request decode", () => decodeProduceRequest(produceBody).topics.length);

  const fetch = {
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [{ name: "bench-topic", partitions: Array.from({ length: 8 }, (_, i) => ({ index: i, fetchOffset: BigInt(i * 1000), partitionMaxBytes: 1 << 20 })) }],
  };
  w.reset();
  writeFetchRequest(w, fetch);
  const fetchBody = w.finish().slice();
  bench.add("fetch request decode (8 partitions)", () => decodeFetchRequest(fetchBody).topics.length);

  bench.addEventListener("complete", () => {
    if (frames < 0 || correlation === 0.5) console.log(frames, correlation);
  });
}
