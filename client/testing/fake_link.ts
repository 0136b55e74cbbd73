// A RequestLink that plays the broker inside a test: produce requests are
// decoded and held until the test answers them (or fails them), so tests can
// check batching, pipelining, retry order and backpressure exactly. Metadata
// is answered at once from a table of topics, InitProducerId with the next
// epoch of producer id 1 (each call is counted in `initProducerIdCalls`).

import { ApiKey } from "../../protocol/api_keys.ts";
import { Writer } from "../../protocol/codec.ts";
import { ErrorCode } from "../../protocol/errors.ts";
import { decodeControlRequest, encodeControlResponse } from "../../protocol/messages/control.ts";
import { decodeProduceRequest, writeProduceResponse, type ProduceRequest, type ProduceResponse } from "../../protocol/messages/produce.ts";
import { decodeBatches } from "../../protocol/record_batch.ts";
import type { RequestLink } from "../broker_link.ts";
import type { BodyEncoder, RequestHandler, RequestOptions } from "../connection.ts";

export interface HeldProduce {
  readonly request: ProduceRequest;
  readonly expectResponse: boolean;
  settled: boolean;
  /** Answers every partition with NONE and consecutive offsets from the partition's log end. */
  ok(): void;
  /** Answers each partition with `code`. */
  failPartitions(code: number): void;
  /** Fails the whole request (as a lost connection would). */
  fail(error: Error): void;
  /** Answers with exactly `response` (any order, missing or extra partitions), or with these body bytes. */
  answer(response: ProduceResponse | Uint8Array): void;
  /** Record values per partition, decoded from the batches (UTF-8). */
  values(): Map<number, string[]>;
}

export class FakeLink implements RequestLink {
  readonly produces: HeldProduce[] = [];
  /** Log end offset per "topic/partition". */
  readonly logEnd = new Map<string, bigint>();
  closed = false;
  /** InitProducerId requests answered (the idempotent producer asks once, and again after a batch failed for good). */
  readonly initProducerIdCalls: { producerId?: number; producerEpoch?: number }[] = [];

  constructor(readonly topics: Record<string, number>) {}

  /** Produce requests not yet answered. */
  get outstanding(): HeldProduce[] {
    return this.produces.filter((p) => !p.settled && p.expectResponse);
  }

  request(apiKey: number, encodeBody: BodyEncoder, options?: RequestOptions): Promise<Uint8Array> {
    const w = new Writer();
    encodeBody(w);
    const body = w.finish().slice();
    if (apiKey === ApiKey.Metadata) {
      const req = decodeControlRequest(ApiKey.Metadata, body);
      const names = req.topics ?? Object.keys(this.topics);
      return Promise.resolve(
        encodeControlResponse(ApiKey.Metadata, {
          brokers: [{ nodeId: 0, host: "127.0.0.1", port: 1 }],
          controllerId: 0,
          topics: names.map((name) => ({
            name,
            errorCode: name in this.topics ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            internal: false,
            partitions: Array.from({ length: this.topics[name] ?? 0 }, (_, partition) => ({
              partition,
              errorCode: 0,
              leader: 0,
              leaderEpoch: 0,
              logStartOffset: 0,
              highWatermark: 0,
            })),
          })),
        }),
      );
    }
    if (apiKey === ApiKey.InitProducerId) {
      const req = decodeControlRequest(ApiKey.InitProducerId, body);
      this.initProducerIdCalls.push({ producerId: req.producerId, producerEpoch: req.producerEpoch });
      return Promise.resolve(encodeControlResponse(ApiKey.InitProducerId, { producerId: 1, producerEpoch: this.initProducerIdCalls.length - 1 }));
    }
    if (apiKey !== ApiKey.Produce) return Promise.reject(new Error(`FakeLink: api ${apiKey} not played`));
    const request = decodeProduceRequest(body);
    const expectResponse = options?.expectResponse ?? true;
    return new Promise<Uint8Array>((resolve, reject) => {
      const link = this;
      const held: HeldProduce = {
        request,
        expectResponse,
        settled: false,
        ok() {
          this.settled = true;
          const out = new Writer();
          writeProduceResponse(out, {
            topics: request.topics.map((t) => ({
              name: t.name,
              partitions: t.partitions.map((p) => {
                const key = `${t.name}/${p.index}`;
                const base = link.logEnd.get(key) ?? 0n;
                const count = decodeBatches(p.records).reduce((n, b) => n + b.records.length, 0);
                link.logEnd.set(key, base + BigInt(count));
                return { index: p.index, errorCode: 0, baseOffset: base, logAppendTimeMs: -1n, logStartOffset: 0n };
              }),
            })),
          });
          resolve(out.finish().slice());
        },
        failPartitions(code: number) {
          this.settled = true;
          const out = new Writer();
          writeProduceResponse(out, {
            topics: request.topics.map((t) => ({
              name: t.name,
              partitions: t.partitions.map((p) => ({ index: p.index, errorCode: code, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n })),
            })),
          });
          resolve(out.finish().slice());
        },
        fail(error: Error) {
          this.settled = true;
          reject(error);
        },
        answer(response: ProduceResponse | Uint8Array) {
          this.settled = true;
          if (response instanceof Uint8Array) {
            resolve(response);
            return;
          }
          const out = new Writer();
          writeProduceResponse(out, response);
          resolve(out.finish().slice());
        },
        values() {
          const out = new Map<number, string[]>();
          const decoder = new TextDecoder();
          for (const t of request.topics) {
            for (const p of t.partitions) {
              const list = out.get(p.index) ?? [];
              for (const b of decodeBatches(p.records)) for (const r of b.records) list.push(decoder.decode(r.value!));
              out.set(p.index, list);
            }
          }
          return out;
        },
      };
      this.produces.push(held);
      if (!expectResponse) {
        held.settled = true;
        resolve(new Uint8Array(0));
      }
    });
  }

  /** The connection's callback form, as BrokerLink offers it: outcomes come later, never from inside the call. */
  send(apiKey: number, handler: RequestHandler, options?: RequestOptions): void {
    let result: Promise<Uint8Array>;
    try {
      result = this.request(apiKey, (w) => handler.encodeBody(w), options);
    } catch (e) {
      result = Promise.reject(e);
    }
    result.then(
      (body) => handler.onResponse(body, 0, body.length),
      (error) => handler.onError(error instanceof Error ? error : new Error(String(error))),
    );
  }

  close(): void {
    this.closed = true;
  }
}

