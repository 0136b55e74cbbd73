// The per-partition results of one Produce request while it is in flight,
// `flat` over the request's topics and partitions: the one layout both
// protocols fill from the engine's callbacks and answer from
// (native/produce_in_flight.ts, kafka/produce.ts). Typed arrays, not an object
// per partition: this runs once per produce request.

import { ErrorCode } from "../protocol/errors.ts";
import type { ProduceResult } from "./partition_pool.ts";

/** Not a wire error code: "no result yet". */
export const RESULT_PENDING = 0x7fff;

export class ProducePartitionResults {
  readonly codes: Int16Array;
  readonly baseOffsets: Float64Array;
  readonly appendTimes: Float64Array;
  readonly logStarts: Float64Array;

  constructor(partitions: number) {
    this.codes = new Int16Array(partitions).fill(RESULT_PENDING);
    this.baseOffsets = new Float64Array(partitions).fill(-1);
    this.appendTimes = new Float64Array(partitions).fill(-1);
    this.logStarts = new Float64Array(partitions).fill(-1);
  }

  /** Records partition `flat`'s result; false if it had one already (it was answered as timed out first). */
  set(flat: number, err: number, res: ProduceResult | null): boolean {
    if (this.codes[flat] !== RESULT_PENDING) return false;
    this.codes[flat] = err;
    if (err === ErrorCode.NONE && res !== null) {
      this.baseOffsets[flat] = res.baseOffset;
      this.appendTimes[flat] = res.logAppendTimeMs;
      this.logStarts[flat] = res.logStartOffset;
    }
    return true;
  }

  /** Every partition without a result gets `code`. */
  failPending(code: number): void {
    for (let i = 0; i < this.codes.length; i++) if (this.codes[i] === RESULT_PENDING) this.codes[i] = code;
  }
}
