// The history a cluster fault test records, and its recorder.
//
// Two sides, kept apart as in history.ts: what the producers did (every
// record: its unique value, its key, where it went, whether and where it was
// acked, in the order the producers handed records to the client), and what
// consumers read (every record a consumer delivered, with its place). At the
// end the test adds one *final read*: every partition read from its log start
// to its high watermark after the faults healed. cluster_checker.ts judges the
// three; it never talks to a broker, so it can be fed crafted histories.
//
// A value identifies a record across the whole history: producers must never
// send one value twice.

/** One record a producer handed to the client. */
export interface ProducedRecord {
  readonly value: string;
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  /** The send resolved with an offset (acks=all: committed on the ISR). */
  readonly acked: boolean;
  /** The offset the ack named; undefined when not acked. */
  readonly offset: number | undefined;
}

/** One record a consumer delivered (from a group member, or the final read). */
export interface ReadAt {
  readonly consumer: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

export interface ClusterHistory {
  /** In the order the producers handed them to the client (the per-key send order). */
  readonly produced: readonly ProducedRecord[];
  /** Consumers' reads while the faults ran, in the order delivered. */
  readonly reads: readonly ReadAt[];
  /** Every partition read from its log start to its high watermark at the end, after the faults healed. */
  readonly finalRead: readonly ReadAt[];
}

interface Pending {
  value: string;
  key: string;
  topic: string;
  partition: number;
  acked: boolean;
  offset: number | undefined;
}

/**
 * Records a ClusterHistory as a workload runs. `sent` is called when a record
 * is handed to the client (this fixes the per-key send order), `acked` or
 * `failed` when its send settles.
 */
export class ClusterHistoryRecorder {
  private readonly records: Pending[] = [];
  private readonly byValue = new Map<string, Pending>();
  readonly reads: ReadAt[] = [];
  readonly finalRead: ReadAt[] = [];

  sent(value: string, key: string, topic: string, partition: number): void {
    if (this.byValue.has(value)) throw new Error(`history: value ${value} sent twice; every value must be unique`);
    const r: Pending = { value, key, topic, partition, acked: false, offset: undefined };
    this.records.push(r);
    this.byValue.set(value, r);
  }

  /** The send resolved: the record is at `partition`/`offset` (the partitioner may only be known now). */
  acked(value: string, partition: number, offset: number): void {
    const r = this.byValue.get(value);
    if (r === undefined) throw new Error(`history: ack of ${value}, which was never sent`);
    if (r.acked) throw new Error(`history: ${value} acked twice`);
    r.acked = true;
    r.partition = partition;
    r.offset = offset;
  }

  read(consumer: string, topic: string, partition: number, offset: number, value: string): void {
    this.reads.push({ consumer, topic, partition, offset, value });
  }

  final(topic: string, partition: number, offset: number, value: string): void {
    this.finalRead.push({ consumer: "final", topic, partition, offset, value });
  }

  get sentCount(): number {
    return this.records.length;
  }

  get ackedCount(): number {
    let n = 0;
    for (const r of this.records) if (r.acked) n++;
    return n;
  }

  history(): ClusterHistory {
    return { produced: this.records.map((r) => ({ ...r })), reads: this.reads, finalRead: this.finalRead };
  }
}
