// The idempotent producer's side (on by default, like the Java client's
// enable.idempotence): a producer id and epoch from the broker
// (InitProducerId), and a sequence number per partition stamped into each
// batch's header when it is first sent. A retry sends the same bytes, so the
// same sequence, and the broker answers a batch it already stored with its
// original offsets instead of storing it twice (workers/log/producer_state.ts).
//
// Rules the sender keeps (produce_sender.ts):
// - A batch is stamped when it closes (its header's producer id, epoch and base
//   sequence, written before its CRC is made: no second CRC pass), in close
//   order, which is its partition's send order; the partition's next sequence
//   moves by its record count. A batch closed while there is no id (or a new
//   epoch is on its way) closes unstamped, and every unsent batch is stamped
//   (header and CRC rewritten) in queue order once the id or epoch arrives.
//   Retries are never re-stamped.
// - A request never carries a partition's retried batches together with new
//   ones: the broker answers an append either wholly as a retry or wholly as
//   new batches.
// - With retries on, a partition has one request in flight, so sequences reach
//   the broker in order, and at most PRODUCER_BATCHES_CACHED (5) of its
//   batches per request: the broker remembers a producer's last five batches
//   of a partition, so a retried request (a lost answer, or a new leader that
//   replicated it) is recognised whole instead of answered
//   OUT_OF_ORDER_SEQUENCE_NUMBER.
// - A batch that fails for good leaves a hole in its partition's sequence (or
//   an unknown outcome): before anything new is stamped, the producer asks for
//   the next epoch (KIP-360), and every partition starts again at sequence 0
//   under it. Batches already sent keep their old stamp; the broker takes them
//   or refuses them by its rules, never twice.
//
// Without a producer id yet, nothing is sent: the first drain asks for one and
// the sender drains again when it arrives. A broker that does not serve
// InitProducerId (UNSUPPORTED_VERSION) turns idempotence off when it was on by
// default, and fails the batches when it was asked for explicitly.

import { ApiKey } from "../protocol/api_keys.ts";
import { writeI16, writeI32, writeI64Number } from "../protocol/big_endian.ts";
import { crc32c } from "../protocol/crc32c.ts";
import { ErrorCode, SluiceError, isRetriable } from "../protocol/errors.ts";
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  CRC_OFFSET,
  type FinishOptions,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
} from "../protocol/record_batch.ts";
import { backoffMs } from "./backoff.ts";
import { controlCall, type RequestLink } from "./broker_link.ts";

/** The largest sequence number; the next is 0 (Kafka's int32 wrap). */
const SEQUENCE_MAX = 0x7fffffff;

/** What a partition keeps for idempotence (part of the sender's PartitionState). */
export interface SequencedPartition {
  /** The sequence of the next batch stamped. */
  nextSequence: number;
  /** The producer generation (id and epoch) nextSequence counts in; another one starts it at 0. */
  sequenceGeneration: number;
}

/** A closed batch as far as stamping goes. */
export interface StampableBatch {
  readonly bytes: Uint8Array | undefined;
  readonly recordCount: number;
  stampGeneration: number;
}

/** Writes an idempotent producer's id, epoch and base sequence into a finished batch's header, and its CRC again. */
export function stampBatch(bytes: Uint8Array, producerId: number, producerEpoch: number, baseSequence: number): void {
  writeI64Number(bytes, PRODUCER_ID_OFFSET, producerId);
  writeI16(bytes, PRODUCER_EPOCH_OFFSET, producerEpoch);
  writeI32(bytes, BASE_SEQUENCE_OFFSET, baseSequence);
  writeI32(bytes, CRC_OFFSET, crc32c(bytes, ATTRIBUTES_OFFSET, bytes.length));
}

function addSequence(seq: number, n: number): number {
  const next = seq + n;
  return next > SEQUENCE_MAX ? next - SEQUENCE_MAX - 1 : next;
}

const State = { NONE: 0, ASKING: 1, READY: 2, OFF: 3, FAILED: 4 } as const;
type State = (typeof State)[keyof typeof State];

export class ProducerIdempotence {
  producerId = -1;
  producerEpoch = -1;
  /** Counts id/epoch changes: a partition whose sequenceGeneration differs starts at 0. */
  generation = 0;
  /** Set when a batch failed for good: the next epoch is asked for before anything new is stamped. */
  private broken = false;
  private state: State = State.NONE;
  private attempts = 0;
  /** Why idempotence failed (explicit and refused by the broker): batches fail with it. */
  failure: SluiceError | undefined;
  /** What nextStamp() returns (reused: the builder reads it at once). */
  private readonly scratch: FinishOptions = { producerId: -1, producerEpoch: -1, baseSequence: -1 };

  constructor(
    private readonly link: RequestLink,
    private readonly opts: {
      explicit: boolean;
      retryBackoffMs: number;
      retryBackoffMsMax: number;
      /** The sender may drain again. */
      onReady: () => void;
      /** A new id or epoch arrived: every unsent batch must be stamped again, in queue order (stampUnsent). */
      onNewGeneration: () => void;
      isClosing: () => boolean;
    },
  ) {}

  /** Batches are sent without stamps (a broker without InitProducerId, idempotence on by default). */
  get off(): boolean {
    return this.state === State.OFF;
  }

  /** True when new batches can be stamped now; otherwise asks the broker (once) and calls onReady when it answered. */
  ready(): boolean {
    if (this.state === State.READY && !this.broken) return true;
    if (this.state === State.OFF || this.state === State.FAILED) return true;
    if (this.state !== State.ASKING) this.ask();
    return false;
  }

  /** A closing batch can be stamped now (the id is known, no new epoch is awaited). */
  get canStamp(): boolean {
    return this.state === State.READY && !this.broken;
  }

  /** The stamp of a batch of `records` records closing now in partition `p` (call only when canStamp). */
  nextStamp(p: SequencedPartition, records: number): FinishOptions {
    if (p.sequenceGeneration !== this.generation) {
      p.sequenceGeneration = this.generation;
      p.nextSequence = 0;
    }
    const s = this.scratch;
    s.producerId = this.producerId;
    s.producerEpoch = this.producerEpoch;
    s.baseSequence = p.nextSequence;
    p.nextSequence = addSequence(p.nextSequence, records);
    return s;
  }

  /** A batch failed for good: its partition's sequence has a hole; a new epoch comes before the next stamp. */
  brokenSequence(): void {
    if (this.state === State.READY) this.broken = true;
  }

  /**
   * Stamps a partition's unsent closed batches (attempts 0), in queue order, for
   * the current generation: after a new id or epoch arrived. Retried batches
   * keep their stamp (the broker knows them by it).
   */
  stampUnsent(p: SequencedPartition, ready: readonly (StampableBatch & { readonly attempts: number })[]): void {
    if (this.state !== State.READY) return;
    for (let i = 0; i < ready.length; i++) {
      const b = ready[i];
      if (b.attempts > 0 || b.stampGeneration === this.generation) continue;
      const s = this.nextStamp(p, b.recordCount);
      stampBatch(b.bytes as Uint8Array, s.producerId as number, s.producerEpoch as number, s.baseSequence as number);
      b.stampGeneration = this.generation;
    }
  }

  private ask(): void {
    this.state = State.ASKING;
    const bump = this.broken && this.producerId >= 0;
    const request = bump ? { producerId: this.producerId, producerEpoch: this.producerEpoch } : {};
    controlCall(this.link, ApiKey.InitProducerId, request).then(
      (r) => {
        this.producerId = r.producerId;
        this.producerEpoch = r.producerEpoch;
        this.generation++;
        this.broken = false;
        this.attempts = 0;
        this.state = State.READY;
        this.opts.onNewGeneration();
        this.opts.onReady();
      },
      (e: unknown) => {
        const error = e instanceof SluiceError ? e : new SluiceError(ErrorCode.NETWORK_EXCEPTION, String((e as Error)?.message ?? e), { cause: e });
        if (this.opts.isClosing()) {
          this.state = State.FAILED;
          this.failure = error;
          this.opts.onReady();
          return;
        }
        if (isRetriable(error.code) || error.code === ErrorCode.NETWORK_EXCEPTION || !(e instanceof SluiceError)) {
          // Connection trouble: ask again after a backoff (the link reconnects).
          const wait = backoffMs(this.attempts++, { initialMs: this.opts.retryBackoffMs, maxMs: this.opts.retryBackoffMsMax });
          this.state = State.NONE;
          setTimeout(() => this.opts.onReady(), wait);
          return;
        }
        if (error.code === ErrorCode.UNSUPPORTED_VERSION && !this.opts.explicit) {
          this.state = State.OFF;
        } else {
          this.state = State.FAILED;
          this.failure = new SluiceError(error.code, `idempotent producer: InitProducerId failed: ${error.message}`, { cause: error });
        }
        this.opts.onReady();
      },
    );
  }
}
