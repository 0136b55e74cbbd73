// Controlled shutdown (docs/CLUSTER.md, "Controlled shutdown"), as Kafka's
// KRaft brokers do it: before a broker stops on SIGTERM it tells the
// controller, the controller moves its leaderships to other in-sync replicas
// and takes it out of the ISRs, and only then does the broker leave. Clients
// see NOT_LEADER_OR_FOLLOWER (retriable) and move, instead of a connection
// loss and a lease TTL without a leader.
//
// The broker's side is here:
// - announceShutdown(): one key, `shutdown/<id>`, created once under the
//   broker's session lease, carrying the registration's create revision (the
//   broker epoch). It is a one-way flag: nobody clears it, it dies with the
//   lease (the broker's revoke at the end of the shutdown, or a crash), so a
//   restarted broker is never taken for a shutting-down one.
// - handOffProgress(): from the broker's view, what the controller still has
//   to do about this broker (pending) and the partitions it cannot hand off
//   because no other in-sync replica is registered and staying (they go
//   offline when it stops). It asks the controller's own pure decision
//   (decidePartition), so the broker waits for exactly what the controller
//   will do.
// The controller's side is decidePartition's shutting-down set
// (partition_controller.ts): a broker in it is never elected, and leaves
// every ISR that keeps a member without it.

import { z } from "zod";
import type { ClusterKeys } from "./cluster_keys.ts";
import type { ClusterView } from "./cluster_view.ts";
import type { EtcdClient } from "./etcd_client.ts";
import { cmp, type KeyValue, op } from "./etcd_wire.ts";
import { decidePartition } from "./partition_controller.ts";
import { parseJson } from "./topic_metadata.ts";

const ShutdownRecordSchema = z
  .object({
    brokerId: z.number().int().min(0),
    /** The create revision of the registration that is shutting down: a later registration of the same id is not. */
    registrationRevision: z.number().int().min(1),
    atMs: z.number().int().min(0),
  })
  .strict();

export type ShutdownRecord = z.output<typeof ShutdownRecordSchema>;

export function parseShutdownKey(kv: KeyValue): ShutdownRecord | undefined {
  return parseJson(ShutdownRecordSchema, kv);
}

/**
 * Announces the controlled shutdown of the registration `registrationRevision`
 * of broker `brokerId`: creates `shutdown/<id>` under `leaseId` while that
 * registration is still the live one. Resolves true once the key is there
 * (also when an earlier attempt of this lease made it), false when the
 * registration is gone (the session ended: there is nothing to announce).
 */
export async function announceShutdown(
  client: EtcdClient,
  keys: ClusterKeys,
  who: { brokerId: number; registrationRevision: number; leaseId: string },
): Promise<boolean> {
  const key = keys.shutdown(who.brokerId);
  const record: ShutdownRecord = { brokerId: who.brokerId, registrationRevision: who.registrationRevision, atMs: Date.now() };
  const r = await client.txn({
    compare: [cmp.createRevisionIs(key, 0), cmp.createRevisionIs(keys.broker(who.brokerId), who.registrationRevision)],
    success: [op.put(key, JSON.stringify(record), who.leaseId)],
    failure: [op.range(key)],
  });
  if (r.succeeded) return true;
  const existing = r.results[0];
  const kv = existing.op === "range" ? existing.kvs[0] : undefined;
  // Our own earlier attempt (applied, its answer lost): announced.
  return kv !== undefined && kv.lease === who.leaseId;
}

export interface HandOffProgress {
  /** Partitions (`topic/p`) where the controller still has to move this broker's leadership or take it out of the ISR. */
  readonly pending: string[];
  /** Partitions this broker leads with no other in-sync replica to take over: offline once it stops. */
  readonly stays: string[];
}

/** What is left of broker `me`'s hand-off, as its view sees the cluster (it counts as shutting down whatever the view says). */
export function handOffProgress(view: ClusterView, me: number): HandOffProgress {
  const live = view.liveBrokerIds();
  const shuttingDown = view.shuttingDownBrokerIds();
  shuttingDown.add(me);
  const pending: string[] = [];
  const stays: string[] = [];
  for (const [topic, record] of view.topics) {
    const unclean = record.configs["unclean.leader.election.enable"] === "true";
    for (let p = 0; p < record.partitions; p++) {
      const state = view.partitionState(topic, p);
      if (state === undefined || (state.leader !== me && !state.isr.includes(me))) continue;
      const next = decidePartition(record.replicas[p], state, live, unclean, shuttingDown);
      const leads = (next?.leader ?? state.leader) === me;
      const inIsr = (next?.isr ?? state.isr).includes(me);
      if (next !== undefined && ((state.leader === me && !leads) || (state.isr.includes(me) && !inIsr))) pending.push(`${topic}/${p}`);
      else if (state.leader === me) stays.push(`${topic}/${p}`);
    }
  }
  return { pending, stays };
}
