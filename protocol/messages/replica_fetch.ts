// ReplicaFetch (api key 1002, versions 0–1): a follower broker's fetch from the
// partition leader (docs/CLUSTER.md, "Replica fetch"). Binary, long-poll, like
// Fetch; it reads up to the leader's log end (not its high watermark: a
// follower copies what is not committed yet) and reports what the follower
// has made durable, which is what the leader's high watermark is made of.
//
//   Request  = ReplicaId:i32 BrokerEpoch:i64 MaxWaitMs:i32 MinBytes:i32 MaxBytes:i32 Topics:[Topic]   ; version 0: no BrokerEpoch
//     Topic     = Name:String Partitions:[Partition]
//     Partition = Index:i32 CurrentLeaderEpoch:i32 FetchOffset:i64 LastFetchedEpoch:i32
//                 DurableOffset:i64 PartitionMaxBytes:i32
//   Response = ErrorCode:i16 Topics:[TopicR]     ; ErrorCode ≠ 0: Message:String instead of Topics
//     TopicR     = Name:String Partitions:[PartitionR]
//     PartitionR = Index:i32 ErrorCode:i16 HighWatermark:i64 LogStartOffset:i64 LogEndOffset:i64
//                  DivergingEpoch:i32 DivergingEndOffset:i64 Records:Bytes
//
// BrokerEpoch: the follower's broker epoch, the create revision of its etcd
// registration (docs/CLUSTER.md, "Broker epochs"), or -1 (NO_BROKER_EPOCH) for
// a broker outside a cluster (roles given by hand). The leader refuses a fetch
// whose epoch is older than the one it knows for that broker with
// STALE_BROKER_EPOCH (a process whose session was replaced), and starts the
// follower's recorded offsets afresh when the epoch changes (a new process).
// Anything else than -1 or 0..2^53-1 is INVALID_REQUEST.
//
// Version 0 is the same request without BrokerEpoch (decoded as null: not
// sent). A leader serves both, so replication goes on through a rolling
// upgrade: a version 0 fetch (a follower of an earlier build) is taken
// unchecked, as before broker epochs; a follower of this build sends version 1
// and falls back to 0 on a connection whose leader answers UNSUPPORTED_VERSION
// (a leader of an earlier build).
//
// LastFetchedEpoch: the epoch of the last batch in the follower's log (-1 when
// empty). When that epoch ends earlier on the leader than FetchOffset, or the
// leader knows no epoch that large, the leader answers no records and a
// DivergingEpoch / DivergingEndOffset (its OffsetForLeaderEpoch answer, KIP-320):
// the follower truncates to the end of the last common epoch and fetches again.
// DivergingEpoch is -1 when there is no divergence. Records are stored batch
// bytes, byte for byte (the leader's offsets and epochs in them). The response
// is Fetch's layout (fetch.ts writeFetchLayout: same envelope, topics and
// Records field) with a longer partition head.

import { Reader, type Writer } from "../codec.ts";
import { ErrorCode, SluiceError } from "../errors.ts";
import { decodeFetchLayout, readFetchPartitionHead, readRecords, writeFetchLayout, writeFetchLayoutPieces, writeFetchPartitionHead } from "./fetch.ts";

export interface ReplicaFetchPartition {
  index: number;
  currentLeaderEpoch: number;
  fetchOffset: bigint;
  lastFetchedEpoch: number;
  durableOffset: bigint;
  partitionMaxBytes: number;
}

export interface ReplicaFetchTopic {
  name: string;
  partitions: ReplicaFetchPartition[];
}

export interface ReplicaFetchRequest {
  replicaId: number;
  /** The follower's registration's create revision, or NO_BROKER_EPOCH; null: not sent (version 0). */
  brokerEpoch: number | null;
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  topics: ReplicaFetchTopic[];
}

export interface ReplicaFetchPartitionResult {
  index: number;
  errorCode: number;
  highWatermark: bigint;
  logStartOffset: bigint;
  logEndOffset: bigint;
  divergingEpoch: number;
  divergingEndOffset: bigint;
  /** Whole batches back to back (possibly empty). */
  records: Uint8Array;
}

export interface ReplicaFetchTopicResult {
  name: string;
  partitions: ReplicaFetchPartitionResult[];
}

export interface ReplicaFetchResponse {
  topics: ReplicaFetchTopicResult[];
}

/** The version of ReplicaFetch a follower writes first; a leader serves it and version 0 (no BrokerEpoch). */
export const REPLICA_FETCH_VERSION = 1;

/** BrokerEpoch of a follower outside a cluster (no registration). */
export const NO_BROKER_EPOCH = -1;

/** DivergingEpoch when the follower's log agrees with the leader's. */
export const NO_DIVERGING_EPOCH = -1;

const TOPIC_BYTES_MIN = 2 + 4;
const PARTITION_BYTES = 4 + 4 + 8 + 4 + 8 + 4;
/** Bytes of a PartitionR without its records. */
export const REPLICA_FETCH_PARTITION_RESULT_BYTES_MIN = 4 + 2 + 8 + 8 + 8 + 4 + 8 + 4;

/** Writes the request at `version` (version 0 leaves BrokerEpoch out; version 1 needs one). */
export function writeReplicaFetchRequest(w: Writer, req: ReplicaFetchRequest, version = REPLICA_FETCH_VERSION): void {
  w.writeI32(req.replicaId);
  if (version >= 1) {
    if (req.brokerEpoch === null) throw new Error("ReplicaFetch version 1 needs a broker epoch");
    w.writeI64(BigInt(req.brokerEpoch));
  }
  w.writeI32(req.maxWaitMs).writeI32(req.minBytes).writeI32(req.maxBytes).writeArrayCount(req.topics.length);
  for (const t of req.topics) {
    w.writeString(t.name).writeArrayCount(t.partitions.length);
    for (const p of t.partitions) {
      w.writeI32(p.index).writeI32(p.currentLeaderEpoch).writeI64(p.fetchOffset).writeI32(p.lastFetchedEpoch).writeI64(p.durableOffset).writeI32(p.partitionMaxBytes);
    }
  }
}

/** Decodes a request body of `version` (0 or 1; the dispatcher serves no other). */
export function decodeReplicaFetchRequest(body: Uint8Array, version = REPLICA_FETCH_VERSION): ReplicaFetchRequest {
  const r = new Reader(body);
  const replicaId = r.readI32("replicaId");
  let brokerEpoch: number | null = null;
  if (version >= 1) {
    brokerEpoch = r.readI64Number("brokerEpoch");
    if (brokerEpoch < NO_BROKER_EPOCH) throw new SluiceError(ErrorCode.INVALID_REQUEST, `brokerEpoch ${brokerEpoch} is below ${NO_BROKER_EPOCH}`);
  }
  const maxWaitMs = r.readI32("maxWaitMs");
  const minBytes = r.readI32("minBytes");
  const maxBytes = r.readI32("maxBytes");
  const topicCount = r.readArrayCount("topics", TOPIC_BYTES_MIN);
  const topics: ReplicaFetchTopic[] = [];
  for (let i = 0; i < topicCount; i++) {
    const name = r.readStringNotNull("topics[].name");
    const partitionCount = r.readArrayCount("topics[].partitions", PARTITION_BYTES);
    const partitions: ReplicaFetchPartition[] = [];
    for (let j = 0; j < partitionCount; j++) {
      partitions.push({
        index: r.readI32("topics[].partitions[].index"),
        currentLeaderEpoch: r.readI32("topics[].partitions[].currentLeaderEpoch"),
        fetchOffset: r.readI64("topics[].partitions[].fetchOffset"),
        lastFetchedEpoch: r.readI32("topics[].partitions[].lastFetchedEpoch"),
        durableOffset: r.readI64("topics[].partitions[].durableOffset"),
        partitionMaxBytes: r.readI32("topics[].partitions[].partitionMaxBytes"),
      });
    }
    topics.push({ name, partitions });
  }
  r.expectEnd("the replica fetch request");
  return { replicaId, brokerEpoch, maxWaitMs, minBytes, maxBytes, topics };
}

function writePartitionHead(w: Writer, p: ReplicaFetchPartitionResult): void {
  writeFetchPartitionHead(w, p);
  w.writeI64(p.logEndOffset).writeI32(p.divergingEpoch).writeI64(p.divergingEndOffset);
}

function readPartition(r: Reader): ReplicaFetchPartitionResult {
  return {
    ...readFetchPartitionHead(r),
    logEndOffset: r.readI64("partitions[].logEndOffset"),
    divergingEpoch: r.readI32("partitions[].divergingEpoch"),
    divergingEndOffset: r.readI64("partitions[].divergingEndOffset"),
    records: readRecords(r),
  };
}

/** Writes a successful response body; records are copied into the writer. */
export function writeReplicaFetchResponse(w: Writer, resp: ReplicaFetchResponse): void {
  writeFetchLayout(w, resp.topics, writePartitionHead);
}

/** The response body as pieces for a vectored socket write, records not copied (writeFetchLayoutPieces in fetch.ts). */
export function writeReplicaFetchResponsePieces(w: Writer, resp: ReplicaFetchResponse): { pieces: Uint8Array[]; recordBytes: number } {
  return writeFetchLayoutPieces(w, resp.topics, writePartitionHead);
}

/** Decodes a response body; records are views. A request-level error is thrown as SluiceError(code, message). */
export function decodeReplicaFetchResponse(body: Uint8Array): ReplicaFetchResponse {
  return decodeFetchLayout(body, REPLICA_FETCH_PARTITION_RESULT_BYTES_MIN, readPartition, "the replica fetch response");
}
