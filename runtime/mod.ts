// The runtime adapters' public face. Only runtime/ touches Bun.* or Deno.*.

import type { Transport } from "./transport.ts";
import { bunTransport } from "./transport_bun.ts";
import { nodeTransport } from "./transport_node.ts";

export type { Transport, TransportConnectOptions, TransportSocket } from "./transport.ts";
export { bunTransport } from "./transport_bun.ts";
export { nodeTransport } from "./transport_node.ts";

/** The runtime this code runs on. */
export function runtimeName(): "bun" | "deno" | "node" {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  if (g.Bun !== undefined) return "bun";
  if (g.Deno !== undefined) return "deno";
  return "node";
}

/** Bun.connect on Bun; node:net everywhere else (Node and Deno). */
export function defaultTransport(): Transport {
  return runtimeName() === "bun" ? bunTransport : nodeTransport;
}
