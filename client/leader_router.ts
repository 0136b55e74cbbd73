// Where a partition's requests go (docs/CLUSTER.md): in a cluster, Metadata
// names each partition's leader and every broker's address, and produce
// requests go to the leader, one connection (BrokerLink) per broker, opened
// on first use. A single node's Metadata carries no replica lists: everything
// then goes over the bootstrap link, as it always did.
//
// A partition whose leader is unknown (offline, or forgotten after
// NOT_LEADER_OR_FOLLOWER / LEADER_NOT_AVAILABLE / FENCED_LEADER_EPOCH or a lost
// connection) has no link until the next Metadata names one: the sender keeps
// its batches queued meanwhile, in order.

import type { MetadataResponse } from "../protocol/messages/control.ts";
import { BrokerLink, type RequestLink } from "./broker_link.ts";
import type { ClientConfig } from "./options.ts";

/** No leader known for the partition (wait for metadata). */
const UNKNOWN = -1;

export class LeaderRouter {
  readonly #config: ClientConfig;
  readonly #bootstrap: RequestLink;
  readonly #what: string;
  /** topic → leader per partition; only topics whose metadata came from a cluster. */
  readonly #leaders = new Map<string, number[]>();
  readonly #addresses = new Map<number, { host: string; port: number }>();
  readonly #links = new Map<number, BrokerLink>();

  constructor(config: ClientConfig, bootstrap: RequestLink, what: string) {
    this.#config = config;
    this.#bootstrap = bootstrap;
    this.#what = what;
  }

  /** Takes the leaders and broker addresses of a Metadata response. */
  learn(response: MetadataResponse): void {
    for (const b of response.brokers) {
      const known = this.#addresses.get(b.nodeId);
      if (known !== undefined && (known.host !== b.host || known.port !== b.port)) {
        // The broker moved (restarted elsewhere): its old connection is of no use.
        this.#links.get(b.nodeId)?.close();
        this.#links.delete(b.nodeId);
      }
      this.#addresses.set(b.nodeId, { host: b.host, port: b.port });
    }
    for (const t of response.topics) {
      if (t.errorCode !== 0 || t.partitions.length === 0) continue;
      if (t.partitions[0].replicas === undefined) {
        this.#leaders.delete(t.name); // a single node: the bootstrap link
        continue;
      }
      const leaders = new Array<number>(t.partitions.length).fill(UNKNOWN);
      for (const p of t.partitions) if (p.partition >= 0 && p.partition < leaders.length) leaders[p.partition] = p.errorCode === 0 ? p.leader : UNKNOWN;
      this.#leaders.set(t.name, leaders);
    }
  }

  /** The link a partition's requests go over; undefined while its leader is unknown. */
  linkFor(topic: string, partition: number): RequestLink | undefined {
    const leaders = this.#leaders.get(topic);
    if (leaders === undefined) return this.#bootstrap;
    const leader = leaders[partition] ?? UNKNOWN;
    if (leader === UNKNOWN) return undefined;
    let link = this.#links.get(leader);
    if (link === undefined) {
      const address = this.#addresses.get(leader);
      if (address === undefined) return undefined;
      link = new BrokerLink({ ...this.#config, host: address.host, port: address.port, bootstrap: [address] }, `${this.#what} (broker ${leader})`);
      this.#links.set(leader, link);
    }
    return link;
  }

  /** Whether the partition's leader is known from a cluster's metadata (false on a single node). */
  routed(topic: string): boolean {
    return this.#leaders.has(topic);
  }

  /** The partition's leader is no longer to be trusted: no link until the next metadata. */
  forget(topic: string, partition: number): void {
    const leaders = this.#leaders.get(topic);
    if (leaders !== undefined && partition < leaders.length) leaders[partition] = UNKNOWN;
  }

  close(): void {
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
  }
}
