// Picks the client a load thread uses: the Sluice client library (what users
// run, the default) or the protocol-only baseline (raw_load_client.ts), which
// tells the library's cost from the broker's.

import {
  createLibraryAdmin,
  LIBRARY_BATCH_BYTES_DEFAULT,
  openLibraryConsumer,
  openLibraryProducer,
} from "./library_load_client.ts";
import type { LoadAdmin, LoadConsumer, LoadConsumerOptions, LoadProducer, LoadProducerOptions, LoadTarget } from "./load_client.ts";
import { createRawAdmin, openRawConsumer, openRawProducer, RAW_BATCH_BYTES_DEFAULT } from "./raw_load_client.ts";

export const LoadClientKind = { sluice: "sluice", raw: "raw" } as const;
export type LoadClientKind = (typeof LoadClientKind)[keyof typeof LoadClientKind];

/** Record framing around a value in a v2 batch (length, attributes, deltas, key, header count): a few bytes. */
export const RECORD_OVERHEAD_BYTES = 8;

export function batchBytesDefault(kind: LoadClientKind): number {
  return kind === "raw" ? RAW_BATCH_BYTES_DEFAULT : LIBRARY_BATCH_BYTES_DEFAULT;
}

export function openLoadProducer(kind: LoadClientKind, options: LoadProducerOptions): Promise<LoadProducer> {
  return kind === "raw" ? openRawProducer(options) : openLibraryProducer(options);
}

export function openLoadConsumer(kind: LoadClientKind, options: LoadConsumerOptions): Promise<LoadConsumer> {
  return kind === "raw" ? openRawConsumer(options) : openLibraryConsumer(options);
}

export function createLoadAdmin(kind: LoadClientKind, target: LoadTarget): Promise<LoadAdmin> {
  return kind === "raw" ? createRawAdmin(target) : createLibraryAdmin(target);
}
