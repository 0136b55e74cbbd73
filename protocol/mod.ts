// The public face of protocol/: what the engine, workers and client import.
// protocol/ imports nothing of the project outside itself (only npm packages).

export * from "./api_keys.ts";
export * from "./big_endian.ts";
export * from "./codec.ts";
export * from "./crc32c.ts";
export * from "./errors.ts";
export * from "./frame.ts";
export * from "./limits.ts";
export * from "./record_batch.ts";
export * from "./topic_name.ts";
export * from "./varint.ts";
export { utf8Length, utf8Read, utf8Write, utf8Encode } from "./utf8.ts";
export * from "./messages/control.ts";
export * from "./messages/fetch.ts";
export * from "./messages/produce.ts";
export * from "./messages/response.ts";
export * from "./messages/groups.ts";
