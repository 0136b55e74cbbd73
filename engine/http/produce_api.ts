// POST /api/v1/topics/{topic}/records  { partition?, key?, value, headers?: [{key, value}] }
//
// Appends one record for trying things out, acks=all: the answer comes after
// the fdatasync that makes it durable, with its offset. The topic must exist
// (the console never auto-creates). Without a partition the console picks
// partitions in turn. A full worker ring makes it wait (engine.onWritable), as
// a client's produce would, for at most PRODUCE_TIMEOUT_MS.

import { ErrorCode } from "../../protocol/errors.ts";
import { encodeBatch } from "../../protocol/record_batch.ts";
import type { Engine } from "../engine.ts";
import type { ProduceResult } from "../partition_pool.ts";
import { ApiError, badRequest, fromErrorCode } from "./api_errors.ts";
import { intField } from "./api_params.ts";
import { PRODUCE_HEADERS_MAX, PRODUCE_TIMEOUT_MS, REQUEST_BODY_BYTES_MAX } from "./console_limits.ts";

export interface Produced {
  topic: string;
  partition: number;
  offset: number;
}

export class ConsoleProducer {
  readonly #engine: Engine;
  /** Counts records sent without a partition: they go to partitions in turn. */
  #sentWithoutPartition = 0;

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  async produce(topic: string, body: Record<string, unknown>): Promise<Produced> {
    const count = this.#engine.topicView().partitionCount(topic);
    if (count === 0) throw fromErrorCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`);
    let partition: number;
    if (body.partition === undefined || body.partition === null || body.partition === "") {
      partition = this.#sentWithoutPartition++ % count;
    } else {
      partition = intField(body, "partition", 0, count - 1);
    }
    const key = optionalText(body, "key");
    const value = optionalText(body, "value");
    const headers = parseHeaders(body.headers);
    const batch = encodeBatch([{ key, value, headers }]);
    if (batch.length > REQUEST_BODY_BYTES_MAX + 1024) throw new ApiError(413, "MESSAGE_TOO_LARGE", "the record is too large");
    const result = await this.#send(topic, partition, batch);
    return { topic, partition, offset: result.baseOffset };
  }

  #send(topic: string, partition: number, batch: Uint8Array): Promise<ProduceResult> {
    const engine = this.#engine;
    return new Promise<ProduceResult>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new ApiError(504, "REQUEST_TIMED_OUT", `no acknowledgement within ${PRODUCE_TIMEOUT_MS} ms`));
      }, PRODUCE_TIMEOUT_MS);
      const attempt = (): void => {
        if (settled) return;
        const taken = engine.produce(topic, partition, batch, -1, (err, res, message) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (err !== ErrorCode.NONE || res === null) reject(fromErrorCode(err, message));
          else resolve(res);
        });
        if (!taken) engine.onWritable(topic, partition, attempt);
      };
      attempt();
    });
  }
}

function optionalText(body: Record<string, unknown>, name: string): string | null {
  const v = body[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") throw badRequest(`${name}: expected a string (or null)`);
  return v;
}

function parseHeaders(raw: unknown): Array<[string, string | null]> {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw badRequest('headers: expected a list of {"key": ..., "value": ...}');
  if (raw.length > PRODUCE_HEADERS_MAX) throw badRequest(`headers: at most ${PRODUCE_HEADERS_MAX}`);
  return raw.map((h, i) => {
    if (h === null || typeof h !== "object") throw badRequest(`headers[${i}]: expected {"key": ..., "value": ...}`);
    const { key, value } = h as { key?: unknown; value?: unknown };
    if (typeof key !== "string" || key === "") throw badRequest(`headers[${i}].key: expected a non-empty string`);
    if (value !== null && value !== undefined && typeof value !== "string") throw badRequest(`headers[${i}].value: expected a string (or null)`);
    return [key, (value as string | null | undefined) ?? null];
  });
}
