// Brokers registered in a real etcd, each with a real lease, and the first of
// them elected controller, with no broker process: the setup of the
// controller's own tests (cluster/controller_topics.test.ts,
// cluster/leader_elections.test.ts), which then act as the controller through
// `ctx`. Each call makes a cluster of its own name, so tests of a file share
// one etcd (test/support/use_etcd.ts gives the etcd and the cleanups). Leases
// and the election are closed by the caller's cleanups (run after each test,
// in reverse). `registerBrokers` alone is for tests that elect their
// controllers themselves (cluster/move_start.test.ts).

import { registerBroker } from "../../cluster/broker_registration.ts";
import { ClusterKeys } from "../../cluster/cluster_keys.ts";
import { ControllerElection } from "../../cluster/controller_election.ts";
import type { ControllerContext } from "../../cluster/controller_topics.ts";
import { EtcdClient } from "../../cluster/etcd_client.ts";
import { LeaseKeeper } from "../../cluster/lease_keeper.ts";

export interface ControllerClusterOptions {
  readonly endpoints: readonly string[];
  /** The cluster's name is this prefix, the process id and a sequence number. */
  readonly namePrefix: string;
  readonly ids: readonly number[];
  readonly ttlSeconds: number;
  readonly cleanups: (() => Promise<void>)[];
}

export interface ControllerCluster {
  readonly client: EtcdClient;
  readonly keys: ClusterKeys;
  readonly election: ControllerElection;
  /** Each broker's lease (its session). */
  readonly leases: Map<number, LeaseKeeper>;
  /** Each broker's registration create revision. */
  readonly registrations: Map<number, number>;
  /** The controller's context; its placement "random" is a counter, so placements are the same every run. */
  readonly ctx: ControllerContext;
}

let seq = 0;

/**
 * Registers `ids` in `keys`' cluster, each under a lease of its own (revoked by
 * the cleanups): the brokers as the controller sees them, with no process.
 */
export async function registerBrokers(
  client: EtcdClient,
  keys: ClusterKeys,
  o: Pick<ControllerClusterOptions, "ids" | "ttlSeconds" | "cleanups">,
): Promise<Pick<ControllerCluster, "leases" | "registrations">> {
  const leases = new Map<number, LeaseKeeper>();
  const registrations = new Map<number, number>();
  for (const id of o.ids) {
    const lease = await LeaseKeeper.grant(client, { ttlSeconds: o.ttlSeconds });
    o.cleanups.push(() => lease.revoke());
    const r = await registerBroker(client, keys, lease, { id, host: "127.0.0.1", port: 9000 + id, httpPort: 9100 + id, rack: null, startedAtMs: Date.now() });
    leases.set(id, lease);
    registrations.set(id, r.createRevision);
  }
  return { leases, registrations };
}

export async function startControllerCluster(o: ControllerClusterOptions): Promise<ControllerCluster> {
  const client = new EtcdClient({ endpoints: [...o.endpoints] });
  const keys = new ClusterKeys(`${o.namePrefix}${process.pid}-${++seq}`);
  const { leases, registrations } = await registerBrokers(client, keys, o);
  const election = new ControllerElection({ client, keys, lease: leases.get(o.ids[0])!, brokerId: o.ids[0] });
  o.cleanups.push(() => election.close());
  if (!(await election.campaign())) throw new Error(`broker ${o.ids[0]} did not become controller of a new cluster`);
  let next = 0;
  const ctx: ControllerContext = { client, keys, election, random: (below) => next++ % below };
  return { client, keys, election, leases, registrations, ctx };
}
