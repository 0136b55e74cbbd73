// The request dispatcher of the native protocol: api key → handler.
//
// Produce (0), Fetch (1) and ReplicaFetch (1002) have binary bodies and are
// served by the connection itself (the hot path). Every other api has a MessagePack body
// and is served by a *control handler* registered here:
//
//   dispatcher.register(apiKey, handler, { name? })
//   handler: (body: unknown, ctx: RequestContext) => unknown | Promise<unknown>
//
// The body arrives decoded (MessagePack, with length limits) but not validated:
// the handler validates it (zod) and throws SluiceError(INVALID_REQUEST) naming
// the field. The reply is ErrorCode 0 followed by the MessagePack encoding of
// what the handler returns; a thrown SluiceError becomes its code and message;
// anything else thrown becomes UNKNOWN_SERVER_ERROR (and is logged).
//
// This is the hook the group coordinator (engine/groups) plugs into for api
// keys 8, 9, 11–16 and 1001.

import { decode, encode } from "@msgpack/msgpack";
import { ApiKey, apiName } from "../../protocol/api_keys.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { REPLICA_FETCH_VERSION } from "../../protocol/messages/replica_fetch.ts";
import { CONTROL_REQUEST_MSGPACK_LIMITS } from "../engine_limits.ts";

export interface RequestContext {
  /** Counts up from 1 per broker process. */
  readonly connectionId: number;
  readonly remoteAddress: string;
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  /** Calls `cb` once when the connection closes (e.g. to end a group member's session). */
  onConnectionClose(cb: () => void): void;
}

export type ControlHandler = (body: unknown, ctx: RequestContext) => unknown | Promise<unknown>;

interface Registration {
  handler: ControlHandler;
  name: string;
}

export class Dispatcher {
  readonly #control = new Map<number, Registration>();

  /** Serves `apiKey` (version 0) with `handler`. One handler per key; registering twice is a programming error. */
  register(apiKey: number, handler: ControlHandler, options: { name?: string } = {}): void {
    if (apiKey === ApiKey.Produce || apiKey === ApiKey.Fetch || apiKey === ApiKey.ReplicaFetch) throw new Error(`dispatch: api ${apiKey} is served by the connection`);
    if (this.#control.has(apiKey)) throw new Error(`dispatch: api ${apiKey} (${apiName(apiKey)}) already has a handler`);
    this.#control.set(apiKey, { handler, name: options.name ?? apiName(apiKey) });
  }

  /** Removes a handler (a plugin that stops). */
  unregister(apiKey: number): void {
    this.#control.delete(apiKey);
  }

  controlHandler(apiKey: number): ControlHandler | undefined {
    return this.#control.get(apiKey)?.handler;
  }

  /** Whether `apiKey` at `apiVersion` is served (every api at version 0; ReplicaFetch at 0 to REPLICA_FETCH_VERSION). */
  serves(apiKey: number, apiVersion: number): boolean {
    if (apiKey === ApiKey.ReplicaFetch) return apiVersion <= REPLICA_FETCH_VERSION;
    if (apiVersion !== 0) return false;
    return apiKey === ApiKey.Produce || apiKey === ApiKey.Fetch || this.#control.has(apiKey);
  }

  /** The ApiVersions table of what is actually served: [key, minVersion, maxVersion]. */
  apiVersions(): Array<[number, number, number]> {
    const keys = [ApiKey.Produce, ApiKey.Fetch, ApiKey.ReplicaFetch, ...this.#control.keys()].sort((a, b) => a - b);
    return keys.map((k) => (k === ApiKey.ReplicaFetch ? [k, 0, REPLICA_FETCH_VERSION] : [k, 0, 0]));
  }

  nameOf(apiKey: number): string {
    return this.#control.get(apiKey)?.name ?? apiName(apiKey);
  }
}

/** Decodes a MessagePack request body; INVALID_REQUEST when it is not exactly one value within the limits. */
export function decodeControlBody(body: Uint8Array): unknown {
  if (body.length === 0) throw new SluiceError(ErrorCode.INVALID_REQUEST, "empty body: expected one MessagePack value");
  try {
    return decode(body, CONTROL_REQUEST_MSGPACK_LIMITS);
  } catch (cause) {
    throw new SluiceError(ErrorCode.INVALID_REQUEST, `body is not one MessagePack value: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

export function encodeControlReply(value: unknown): Uint8Array {
  return encode(value ?? {}, { ignoreUndefined: true });
}
