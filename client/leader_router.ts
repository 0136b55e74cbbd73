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
//
// A broker that Metadata no longer names as a partition's leader, and that
// the link cannot reach (kill -9: its port refuses connects), is not waited
// on: the requests waiting for its connection fail at once (abandonConnect;
// none was written) and the sender sends them to the new leader. Without
// this they would wait connectTimeoutMs (10 s by default) for a connection
// that cannot be made, though the new leader serves ~2 s after the kill.
// A failed connect to a broker is told to the producer for each partition
// the broker leads (leaderUnreachable), so a request queued while nothing
// was in flight (no lost request to say the leader is gone) starts the
// Metadata polling that finds the new leader.

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
  /** Told of each partition whose leader's link failed to connect (the producer looks its leader up). */
  readonly #leaderUnreachable: (topic: string, partition: number) => void;

  constructor(config: ClientConfig, bootstrap: RequestLink, what: string, leaderUnreachable?: (topic: string, partition: number) => void) {
    this.#config = config;
    this.#bootstrap = bootstrap;
    this.#what = what;
    this.#leaderUnreachable = leaderUnreachable ?? (() => {});
  }

  /**
   * A connect to `broker` failed: each partition it leads is told, so a
   * request queued for a leader whose connection broke while nothing was in
   * flight (an idle producer's next send) sets a leader search going too.
   */
  #brokerUnreachable(broker: number): void {
    for (const [topic, leaders] of this.#leaders) {
      for (let i = 0; i < leaders.length; i++) if (leaders[i] === broker) this.#leaderUnreachable(topic, i);
    }
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
      const before = this.#leaders.get(t.name);
      if (before !== undefined) {
        for (let i = 0; i < before.length; i++) {
          const was = before[i];
          if (was !== UNKNOWN && leaders[i] !== was) this.#links.get(was)?.abandonConnect(`broker ${was} no longer leads ${t.name}/${i}`);
        }
      }
      this.#leaders.set(t.name, leaders);
    }
  }

  /**
   * Whether the partition's leader link has a connection. While it has none
   * after a failure, the producer keeps asking Metadata (the leader may have
   * died and another be elected).
   */
  leaderConnected(topic: string, partition: number): boolean {
    const leaders = this.#leaders.get(topic);
    if (leaders === undefined) return true; // a single node: the bootstrap link, not the router's concern
    const leader = leaders[partition] ?? UNKNOWN;
    return leader !== UNKNOWN && this.#links.get(leader)?.connected === true;
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
      const broker = leader;
      link = new BrokerLink({ ...this.#config, host: address.host, port: address.port, bootstrap: [address] }, `${this.#what} (broker ${leader})`, () =>
        this.#brokerUnreachable(broker),
      );
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
