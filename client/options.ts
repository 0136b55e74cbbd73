// Options every client (Producer, Consumer, Admin) shares, their defaults, and
// the checks at the edge. Defaults are chosen for a single broker on the same
// network; every value is bounded by a protocol limit where one applies.

import type { Transport } from "../runtime/transport.ts";
import { defaultTransport } from "../runtime/mod.ts";
import { INFLIGHT_REQUESTS_MAX } from "../protocol/limits.ts";
import { BACKOFF_CEILING_MS_MAX, BACKOFF_MS_MAX, BOOTSTRAP_BROKERS_MAX, CONNECT_TIMEOUT_MS_MAX, REQUEST_TIMEOUT_MS_MAX } from "./client_limits.ts";
import { InvalidArgumentError } from "./errors.ts";

export interface ClientOptions {
  /**
   * "host:port" of the broker (default 127.0.0.1:9900); several, for a
   * cluster, as "a:9900,b:9900" or an array: the link connects to the first
   * that answers and moves on to the next when a connection fails.
   */
  readonly broker?: string | readonly string[];
  /** Sent in ApiVersions; shows up in the broker's logs. */
  readonly clientId?: string;
  /** Socket adapter (default: Bun.connect on Bun, node:net elsewhere). */
  readonly transport?: Transport;
  /** Give up one connection attempt after this long. */
  readonly connectTimeoutMs?: number;
  /** A request without a response after this long fails with RequestTimeoutError and closes the connection. */
  readonly requestTimeoutMs?: number;
  /** First wait before reconnecting after a failure; doubles per failure up to reconnectBackoffMsMax. */
  readonly reconnectBackoffMs?: number;
  readonly reconnectBackoffMsMax?: number;
  /** Requests in flight on one connection; further requests wait their turn. */
  readonly inflightRequestsMax?: number;
}

export const DEFAULT_BROKER = "127.0.0.1:9900";

export const CLIENT_DEFAULTS = {
  clientId: "sluice-client",
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  reconnectBackoffMs: 50,
  reconnectBackoffMsMax: 2_000,
  inflightRequestsMax: 256,
} as const;

/** ClientOptions with every default filled in and checked. */
export interface ClientConfig {
  /** The address a connection opens to (BrokerLink sets it from `bootstrap`). */
  readonly host: string;
  readonly port: number;
  /** Every address given, in order (the first is host:port). */
  readonly bootstrap: readonly { host: string; port: number }[];
  readonly clientId: string;
  readonly transport: Transport;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly reconnectBackoffMs: number;
  readonly reconnectBackoffMsMax: number;
  readonly inflightRequestsMax: number;
}

export function parseBrokerAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  if (colon <= 0) throw new InvalidArgumentError(`broker address '${address}' is not HOST:PORT`);
  let host = address.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`broker address '${address}' has no valid port (1..65535)`);
  }
  return { host, port };
}

/** Checks that `value` is an integer in [min, max]; `name` is the option's name for the error. */
export function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

/** The addresses of a `broker` option: one "host:port", a comma-separated list, or an array; at least one, at most BOOTSTRAP_BROKERS_MAX. */
export function parseBrokerList(broker: string | readonly string[]): { host: string; port: number }[] {
  const list = (typeof broker === "string" ? broker.split(",") : [...broker]).map((a) => a.trim()).filter((a) => a !== "");
  if (list.length === 0) throw new InvalidArgumentError("broker: no address given");
  if (list.length > BOOTSTRAP_BROKERS_MAX) throw new InvalidArgumentError(`broker: at most ${BOOTSTRAP_BROKERS_MAX} addresses, got ${list.length}`);
  return list.map(parseBrokerAddress);
}

export function clientConfig(options: ClientOptions): ClientConfig {
  const bootstrap = parseBrokerList(options.broker ?? DEFAULT_BROKER);
  const { host, port } = bootstrap[0];
  const reconnectBackoffMs = checkInt("reconnectBackoffMs", options.reconnectBackoffMs ?? CLIENT_DEFAULTS.reconnectBackoffMs, 1, BACKOFF_MS_MAX);
  return {
    host,
    port,
    bootstrap,
    clientId: options.clientId ?? CLIENT_DEFAULTS.clientId,
    transport: options.transport ?? defaultTransport(),
    connectTimeoutMs: checkInt("connectTimeoutMs", options.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs, 1, CONNECT_TIMEOUT_MS_MAX),
    requestTimeoutMs: checkInt("requestTimeoutMs", options.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs, 1, REQUEST_TIMEOUT_MS_MAX),
    reconnectBackoffMs,
    reconnectBackoffMsMax: checkInt(
      "reconnectBackoffMsMax",
      options.reconnectBackoffMsMax ?? CLIENT_DEFAULTS.reconnectBackoffMsMax,
      reconnectBackoffMs,
      BACKOFF_CEILING_MS_MAX,
    ),
    inflightRequestsMax: checkInt(
      "inflightRequestsMax",
      options.inflightRequestsMax ?? CLIENT_DEFAULTS.inflightRequestsMax,
      1,
      INFLIGHT_REQUESTS_MAX,
    ),
  };
}
