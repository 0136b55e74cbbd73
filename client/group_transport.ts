// The group consumer's two channels to the broker, on the client's own
// connections (client/broker_link.ts):
// - a GroupRpc for the group APIs (MessagePack bodies) on links of its own (to
//   the group's coordinator), so a parked JoinGroup or a heartbeat never queues
//   behind a fetch;
// - a GroupFetcher over a client Consumer (assign/poll/wake/listOffsets),
//   which fetches on its own link.
// A request in flight when a connection breaks fails with ConnectionError
// (NETWORK_EXCEPTION, retriable); the membership retries what it can.

import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import type { TopicPartitions } from "../protocol/messages/groups.ts";
import { CoordinatorRpc } from "./coordinator_rpc.ts";
import { Consumer, type ConsumerOptions } from "./consumer.ts";
import type { FetchPosition, GroupFetcher, GroupMessage } from "./group_consumer.ts";
import type { GroupRpc } from "./group_membership.ts";
import { clientConfig, type ClientOptions } from "./options.ts";

export interface GroupTransportOptions extends ClientOptions {
  /** Longest a poll() waits for records before it returns none (the consume loop then checks for rebalances). */
  readonly pollWaitMs?: number;
  /** Records one poll() returns at most. */
  readonly pollRecordsMax?: number;
  /** Passed to the fetching Consumer (prefetch bytes, fetch sizes, long-poll wait). */
  readonly consumer?: Omit<ConsumerOptions, keyof ClientOptions | "link" | "autoOffsetReset">;
  readonly log?: (line: string) => void;
}

export type ClosableGroupRpc = GroupRpc & { close(): Promise<void> };

/**
 * A GroupRpc on links of its own: to a bootstrap broker, and to each group's
 * coordinator (client/coordinator_rpc.ts: found with FindCoordinator, found
 * again when it moves).
 */
export async function connectGroupRpc(opts: ClientOptions): Promise<ClosableGroupRpc> {
  const rpc = new CoordinatorRpc(clientConfig(opts));
  try {
    await rpc.connect();
  } catch (e) {
    await rpc.close();
    throw e;
  }
  return rpc;
}

/** A GroupFetcher over a client Consumer. */
export class ConsumerFetcher implements GroupFetcher {
  private readonly pollWaitMs: number;
  private readonly pollRecordsMax: number;

  constructor(
    private readonly consumer: Consumer,
    opts: { pollWaitMs?: number; pollRecordsMax?: number } = {},
  ) {
    this.pollWaitMs = opts.pollWaitMs ?? 500;
    this.pollRecordsMax = opts.pollRecordsMax ?? 1_000;
  }

  assign(positions: readonly FetchPosition[]): void {
    this.consumer.assign(positions.map((p) => ({ topic: p.topic, partition: p.partition, position: p.offset })));
  }

  async poll(): Promise<GroupMessage[]> {
    const records = await this.consumer.poll({ maxWaitMs: this.pollWaitMs, maxRecords: this.pollRecordsMax });
    return records.map((r) => ({
      topic: r.topic,
      partition: r.partition,
      offset: Number(r.offset),
      timestamp: r.timestamp,
      key: r.key,
      value: r.value,
      headers: r.headers,
    }));
  }

  wake(): void {
    this.consumer.wake();
  }

  async listOffsets(partitions: readonly TopicPartitions[], which: "earliest" | "latest"): Promise<Map<string, number>> {
    const requests = partitions.flatMap((tp) => tp.partitions.map((partition) => ({ topic: tp.topic, partition, at: which })));
    const answers = await this.consumer.listOffsets(requests);
    const out = new Map<string, number>();
    for (const a of answers) {
      if (a.errorCode !== ErrorCode.NONE) throw new SluiceError(a.errorCode, `cannot find the ${which} offset of ${a.topic}[${a.partition}]`);
      out.set(`${a.topic}:${a.partition}`, Number(a.offset));
    }
    return out;
  }

  close(): Promise<void> {
    return this.consumer.close();
  }
}

/** Both channels of a group consumer, to `broker`. */
export async function connectGroupTransport(
  opts: GroupTransportOptions & { autoOffsetReset: "earliest" | "latest" },
): Promise<{ rpc: ClosableGroupRpc; fetcher: ConsumerFetcher }> {
  const { consumer: consumerOptions, pollWaitMs, pollRecordsMax, log: _log, autoOffsetReset, ...client } = opts;
  const rpc = await connectGroupRpc(client);
  // Start positions come from the group (committed offsets, or the reset policy resolved up front); the
  // policy here only applies when a position falls out of the log later (retention passed a slow member).
  const consumer = new Consumer({ ...client, ...consumerOptions, autoOffsetReset });
  return { rpc, fetcher: new ConsumerFetcher(consumer, { pollWaitMs, pollRecordsMax }) };
}
