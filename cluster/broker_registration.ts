// A broker's registration: `brokers/<id>` → host, ports, rack, created by a
// transaction only if no live broker holds the id, under the broker's session
// lease (so it disappears when the broker is gone).
//
// A refused registration tells whether the id is held by someone else
// (DuplicateBrokerIdError, naming the holder) or by this very session (an
// earlier attempt that etcd applied but whose answer was lost: success).
// A holder that is a crashed earlier run of the same broker goes away when its
// lease expires, so the registration waits up to that lease's TTL before it
// refuses: a restart right after kill -9 works, a second live broker with the
// same id does not (its lease shows time left again past the TTL; a dead
// holder's shows none, and its key is waited for while a loaded etcd gets to
// the revocation).

import { z } from "zod";
import type { ClusterKeys } from "./cluster_keys.ts";
import type { EtcdClient } from "./etcd_client.ts";
import { cmp, type KeyValue, op } from "./etcd_wire.ts";
import type { LeaseKeeper } from "./lease_keeper.ts";

export const BrokerInfoSchema = z
  .object({
    id: z.number().int().min(0),
    host: z.string().min(1),
    /** The native protocol port. */
    port: z.number().int().min(1).max(65_535),
    /** The Kafka protocol port; null when the broker has no Kafka listener (or registered before it was carried). */
    kafkaPort: z.number().int().min(1).max(65_535).nullable().default(null),
    httpPort: z.number().int().min(0).max(65_535),
    rack: z.string().min(1).nullable(),
    startedAtMs: z.number().int().min(0),
  })
  .strict();

export type BrokerInfo = z.output<typeof BrokerInfoSchema>;
/** What a broker registers (kafkaPort may be left out: null). */
export type BrokerInfoInput = z.input<typeof BrokerInfoSchema>;

export const BROKER_ID_TAKEN = "BROKER_ID_TAKEN";

export class DuplicateBrokerIdError extends Error {
  readonly code = BROKER_ID_TAKEN;
  readonly holder: BrokerInfo | undefined;
  constructor(id: number, holder: BrokerInfo | undefined, waitedMs: number) {
    const where = holder === undefined ? "another broker" : `the broker at ${holder.host}:${holder.port}`;
    super(
      `broker id ${id} is already registered by ${where} (still alive after waiting ${Math.round(waitedMs)} ms for its lease); ` +
        `give this broker another --broker-id, or stop the other one`,
    );
    this.name = "DuplicateBrokerIdError";
    this.holder = holder;
  }
}

/** The registration of a broker as etcd holds it, or undefined when the value is not a valid registration. */
export function parseBrokerInfo(kv: KeyValue): BrokerInfo | undefined {
  try {
    const parsed = BrokerInfoSchema.safeParse(JSON.parse(kv.value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export interface Registration {
  readonly key: string;
  /**
   * The registration key's create revision: this session's registration, as
   * etcd orders it, and the broker epoch (Kafka's, KIP-380): a partition state
   * written before it was written for an earlier incarnation (docs/CLUSTER.md,
   * "Broker epochs").
   */
  readonly createRevision: number;
}

const POLL_MS = 100;
/** Slack past the holder's TTL: etcd checks for expired leases every 500 ms. */
const EXPIRY_SLACK_MS = 1_000;
/**
 * How long an expired holder's key may outlive its lease: etcd revokes
 * expired leases through its raft log, and a loaded etcd does so late. A
 * holder whose lease shows no time left is dead, so the registration waits
 * for the key to go, up to this bound past the TTL.
 */
export const EXPIRED_HOLDER_WAIT_MS = 10_000;

/** Registers `info` under the session's lease; throws DuplicateBrokerIdError if a live broker holds the id. */
export async function registerBroker(client: EtcdClient, keys: ClusterKeys, lease: LeaseKeeper, info: BrokerInfoInput): Promise<Registration> {
  const key = keys.broker(info.id);
  const value = JSON.stringify(BrokerInfoSchema.parse(info));
  const startedAt = performance.now();
  let giveUpAt: number | undefined;
  for (;;) {
    const r = await client.txn({ compare: [cmp.createRevisionIs(key, 0)], success: [op.put(key, value, lease.id)], failure: [op.range(key)] });
    if (r.succeeded) return { key, createRevision: r.revision };
    const result = r.results[0];
    const holder = result.op === "range" ? result.kvs[0] : undefined;
    if (holder !== undefined && holder.lease === lease.id) return { key, createRevision: holder.createRevision };
    if (holder !== undefined) {
      if (holder.lease === "0") throw new DuplicateBrokerIdError(info.id, parseBrokerInfo(holder), performance.now() - startedAt); // a key without a lease never expires
      if (giveUpAt === undefined) {
        // Wait out the holder's lease once: a crashed earlier run of this broker expires within it.
        const ttl = await client.leaseTimeToLive(holder.lease);
        giveUpAt = performance.now() + Math.max(0, ttl.ttlSeconds) * 1000 + EXPIRY_SLACK_MS;
      }
      if (performance.now() >= giveUpAt) {
        // Past the TTL: a holder still kept alive shows time left again (a second live broker with this id);
        // one whose lease shows none is dead and its key goes once etcd gets to the revocation.
        const ttl = await client.leaseTimeToLive(holder.lease);
        const waited = performance.now() - startedAt;
        if (ttl.ttlSeconds > 0 || performance.now() >= giveUpAt + EXPIRED_HOLDER_WAIT_MS) throw new DuplicateBrokerIdError(info.id, parseBrokerInfo(holder), waited);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Every registered broker at one revision, by id. */
export async function listBrokers(client: EtcdClient, keys: ClusterKeys): Promise<{ revision: number; brokers: BrokerInfo[] }> {
  const r = await client.range(keys.brokersPrefix, { prefix: true });
  const brokers: BrokerInfo[] = [];
  for (const kv of r.kvs) {
    const info = parseBrokerInfo(kv);
    if (info !== undefined && keys.brokerIdOf(kv.key) === info.id) brokers.push(info);
  }
  brokers.sort((a, b) => a.id - b.id);
  return { revision: r.revision, brokers };
}
