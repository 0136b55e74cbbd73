// Producer ids for idempotent producers (InitProducerId): unique for the life
// of the data directory, durable in blocks.
//
// Durability contract: `<dataDir>/meta/producer-ids` holds the first id not yet
// reserved, with a CRC-32C. Ids are handed out from a reserved block of
// PRODUCER_ID_BLOCK_SIZE; before the first id of a new block is handed out the
// file says the block's end (temp file, fdatasync, rename, directory fsync), so
// after any crash the broker starts past every id it may have given out. A
// crash wastes at most the rest of a block; an id is never given twice.
//
// Epochs: a new producer id starts at epoch 0. A producer that sends its
// current id and epoch (KIP-360: an idempotent producer starting over after
// an error) gets the same id with the next epoch, which fences the old epoch
// in every partition (INVALID_PRODUCER_EPOCH); past the largest epoch it gets
// a new id. The broker keeps no table of producers: an id it never issued is
// refused (UNKNOWN_PRODUCER_ID), any epoch of an issued one is taken as the
// current one (the partitions refuse an older epoch than the one they saw).
//
// In a cluster each broker hands out ids from its own range
// (PRODUCER_IDS_PER_BROKER from brokerId × that), so ids are unique across the
// cluster without asking etcd; a single node uses range 0.
//
// Transactions do not exist here: a transactional id is refused with
// TRANSACTIONAL_ID_NOT_FOUND.
//
// Threading: the router thread; allocations run one at a time (a promise chain).

import fs from "node:fs";
import path from "node:path";
import { readU32, readI64Number, writeI32, writeI64Number } from "../protocol/big_endian.ts";
import { crc32c } from "../protocol/crc32c.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { PRODUCER_ID_BLOCK_SIZE, PRODUCER_IDS_PER_BROKER } from "./engine_limits.ts";

const FILE_NAME = "producer-ids";
const TEMP_NAME = "producer-ids.tmp";
/** next-unreserved i64, CRC-32C u32 of those 8 bytes. */
const FILE_BYTES = 12;
/** Kafka's epoch is an int16; the last value is kept out of use as Kafka does. */
export const PRODUCER_EPOCH_MAX = 32766;
/** Ids stay exact in a double. */
const PRODUCER_ID_MAX = Number.MAX_SAFE_INTEGER;

export interface InitProducerIdRequest {
  /** Not supported (no transactions): must be null or absent. */
  transactionalId?: string | null;
  /** An existing producer starting over (KIP-360): its id and epoch; -1 for a new producer. */
  producerId?: number;
  producerEpoch?: number;
}

export interface ProducerIdAndEpoch {
  producerId: number;
  producerEpoch: number;
}

export class ProducerIds {
  readonly #dir: string;
  /** This broker's range of ids: [#rangeStart, #rangeEnd). */
  readonly #rangeStart: number;
  readonly #rangeEnd: number;
  /** The next id to hand out, and the end of the reserved block. */
  #next: number;
  #reservedEnd: number;
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, next: number, rangeIndex: number) {
    this.#dir = dir;
    this.#rangeStart = rangeIndex * PRODUCER_IDS_PER_BROKER;
    this.#rangeEnd = this.#rangeStart + PRODUCER_IDS_PER_BROKER;
    // A data directory that moved into another range (a single node joining a cluster) starts at its range.
    this.#next = Math.max(next, this.#rangeStart);
    this.#reservedEnd = this.#next;
  }

  /**
   * Reads `<dataDir>/meta/producer-ids` (ids start at the range's first when
   * absent). A damaged file refuses the start. `rangeIndex`: the broker id in
   * a cluster, 0 on a single node.
   */
  static async open(dataDir: string, rangeIndex = 0): Promise<ProducerIds> {
    if (!Number.isSafeInteger(rangeIndex) || rangeIndex < 0 || (rangeIndex + 1) * PRODUCER_IDS_PER_BROKER > PRODUCER_ID_MAX + 1) {
      throw new Error(`producer ids: range ${rangeIndex} is outside 0..${Math.floor((PRODUCER_ID_MAX + 1) / PRODUCER_IDS_PER_BROKER) - 1}`);
    }
    const dir = path.join(dataDir, "meta");
    await fs.promises.mkdir(dir, { recursive: true });
    await fs.promises.rm(path.join(dir, TEMP_NAME), { force: true });
    const file = path.join(dir, FILE_NAME);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await fs.promises.readFile(file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return new ProducerIds(dir, 0, rangeIndex);
      throw e;
    }
    if (bytes.length !== FILE_BYTES || readU32(bytes, 8) !== crc32c(bytes, 0, 8)) {
      // Starting at 0 could give out an id in use: refuse, as for a damaged topics.json.
      throw new Error(`producer ids: ${file} is damaged (${bytes.length} bytes or a checksum mismatch); refusing to start`);
    }
    return new ProducerIds(dir, readI64Number(bytes, 0), rangeIndex);
  }

  /** The first id never handed out (ids below it may have been). */
  get issuedBound(): number {
    return this.#next;
  }

  /** InitProducerId: a producer id and epoch (see the top for the rules). */
  init(req: InitProducerIdRequest): Promise<ProducerIdAndEpoch> {
    if (req.transactionalId !== undefined && req.transactionalId !== null) {
      return Promise.reject(
        new SluiceError(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, `transactional id '${req.transactionalId}': transactions are not supported, only idempotent producers (no transactional id)`),
      );
    }
    const id = req.producerId ?? -1;
    const epoch = req.producerEpoch ?? -1;
    if (id >= 0) {
      if (!Number.isSafeInteger(id) || id < this.#rangeStart || id >= this.#next) {
        return Promise.reject(new SluiceError(ErrorCode.UNKNOWN_PRODUCER_ID, `producer id ${id} was never issued by this broker`));
      }
      if (!Number.isInteger(epoch) || epoch < 0 || epoch > PRODUCER_EPOCH_MAX) {
        return Promise.reject(new SluiceError(ErrorCode.INVALID_PRODUCER_EPOCH, `producer ${id}: epoch ${epoch} is out of range 0..${PRODUCER_EPOCH_MAX}`));
      }
      if (epoch < PRODUCER_EPOCH_MAX) return Promise.resolve({ producerId: id, producerEpoch: epoch + 1 });
    } else if (epoch !== -1) {
      return Promise.reject(new SluiceError(ErrorCode.INVALID_REQUEST, `producer epoch ${epoch} without a producer id`));
    }
    const next = this.#chain.then(() => this.#allocate());
    this.#chain = next.catch(() => {});
    return next;
  }

  async #allocate(): Promise<ProducerIdAndEpoch> {
    if (this.#next >= this.#reservedEnd) {
      const end = Math.min(this.#next + PRODUCER_ID_BLOCK_SIZE, this.#rangeEnd);
      if (end <= this.#next) throw new SluiceError(ErrorCode.UNKNOWN_SERVER_ERROR, "this broker's producer ids are exhausted");
      await this.#persist(end);
      this.#reservedEnd = end;
    }
    return { producerId: this.#next++, producerEpoch: 0 };
  }

  /** Makes `end` the durable first unreserved id (temp + fdatasync + rename + directory fsync). */
  async #persist(end: number): Promise<void> {
    const bytes = new Uint8Array(FILE_BYTES);
    writeI64Number(bytes, 0, end);
    writeI32(bytes, 8, crc32c(bytes, 0, 8));
    const tmp = path.join(this.#dir, TEMP_NAME);
    const fh = await fs.promises.open(tmp, "w");
    try {
      await fh.write(bytes, 0, bytes.length, 0);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, path.join(this.#dir, FILE_NAME));
    const dh = await fs.promises.open(this.#dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
