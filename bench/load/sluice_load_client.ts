// Picks the client a load thread uses: the Sluice client library (what users
// run, the default) or the raw protocol baseline (raw_load_client.ts).

import type { LoadAdmin, LoadConsumer, LoadConsumerOptions, LoadProducer, LoadProducerOptions, LoadTarget } from "./load_client.ts";
import { createRawAdmin, openRawConsumer, openRawProducer, RAW_BATCH_BYTES_DEFAULT } from "./raw_load_client.ts";

export const LoadClientKind = { sluice: "sluice", raw: "raw" } as const;
export type LoadClientKind = (typeof LoadClientKind)[keyof typeof LoadClientKind];

/** Record framing around a value in a v2 batch (length, attributes, deltas, key, header count): a few bytes. */
export const RECORD_OVERHEAD_BYTES = 8;

export function batchBytesDefault(kind: LoadClientKind): number {
  return kind === "raw" ? RAW_BATCH_BYTES_DEFAULT : RAW_BATCH_BYTES_DEFAULT;
}

export async function openLoadProducer(kind: LoadClientKind, options: LoadProducerOptions): Promise<LoadProducer> {
  if (kind === "raw") return openRawProducer(options);
  throw new Error("the Sluice client library is not available yet; use --client raw");
}

export async function openLoadConsumer(kind: LoadClientKind, options: LoadConsumerOptions): Promise<LoadConsumer> {
  if (kind === "raw") return openRawConsumer(options);
  throw new Error("the Sluice client library is not available yet; use --client raw");
}

export async function createLoadAdmin(kind: LoadClientKind, target: LoadTarget): Promise<LoadAdmin> {
  if (kind === "raw") return createRawAdmin(target);
  return createRawAdmin(target);
}
