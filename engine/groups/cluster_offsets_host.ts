// The engine as the cluster offset store sees it (cluster_offset_store.ts's
// OffsetsPartitionHost): leadership of the `__consumer_offsets` partitions
// as the cluster pass applied it, appends with acks=all through the ordinary
// produce path (marked internal: clients' produces to the topic are refused),
// and reads as a consumer reads (below the high watermark).
//
// Leadership is read from what the engine exposes: the partition state in
// this broker's view of etcd names this broker leader in epoch E, and the
// role the cluster pass set on the partition agrees (engine.resolve with E
// succeeds: this broker serves the partition as its leader in exactly E).
// Both must hold, so a view that moved ahead of the roles, or roles left
// behind by a view, lead nothing.

import { ErrorCode } from "../../protocol/errors.ts";
import type { Engine } from "../engine.ts";
import type { OffsetsPartitionHost } from "./cluster_offset_store.ts";
import { OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS } from "./offsets_topic.ts";

/** Bytes one read of a load asks for (a partition's whole batches up to this). */
const LOAD_READ_BYTES = 4 * 1024 * 1024;

export function engineOffsetsHost(engine: Engine): OffsetsPartitionHost {
  return {
    partitions: OFFSETS_TOPIC_PARTITIONS,
    leaderEpoch(p) {
      const cluster = engine.cluster;
      if (cluster === undefined) return -1;
      const info = cluster.partitionInfo(OFFSETS_TOPIC, p);
      if (info === undefined || info.leader !== cluster.brokerId || info.leaderEpoch < 0) return -1;
      return engine.resolve(OFFSETS_TOPIC, p, info.leaderEpoch) >= 0 ? info.leaderEpoch : -1;
    },
    logEndOffset(p) {
      const slot = engine.resolve(OFFSETS_TOPIC, p);
      return slot < 0 ? -1 : engine.pool.state(slot).logEndOffset;
    },
    append(p, records, cb) {
      const send = (): void => {
        const taken = engine.produce(OFFSETS_TOPIC, p, records, -1, (err, _res, message) => cb(err, message), { internal: true });
        if (!taken) engine.onWritable(OFFSETS_TOPIC, p, send);
      };
      send();
    },
    read(p, offset, epoch, maxWaitMs) {
      return new Promise((resolve) => {
        let bytes: Uint8Array | null = null;
        let errorCode: number = ErrorCode.NONE;
        engine.fetch(
          {
            maxWaitMs,
            minBytes: 1,
            maxBytes: LOAD_READ_BYTES,
            partitions: [{ topic: OFFSETS_TOPIC, partition: p, offset, maxBytes: LOAD_READ_BYTES, currentLeaderEpoch: epoch }],
          },
          {
            partition(_i, code, b) {
              errorCode = code;
              bytes = b === null ? null : b.slice(); // the view is valid only during the call
            },
            reset() {
              bytes = null;
            },
            done() {
              resolve({ errorCode, bytes });
            },
          },
        );
      });
    },
  };
}
