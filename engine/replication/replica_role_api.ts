// A control api that sets a partition's replication role by hand (api 1004,
// MessagePack), served only when the broker runs with `--replica-role-api`:
// for tests and experiments with real broker processes, where no etcd decides
// the roles. In a cluster the roles come from etcd's partition state, and this
// api must stay off (it lets any client make a broker lead or follow).
//
//   { topic, partition, role: "leader", epoch, isr: [id], replicas: [id], minInsyncReplicas?, replicaLagTimeMaxMs? }
//   { topic, partition, role: "follower", epoch, leader: { host, port } }
//   { topic, partition, role: "state" }      → the partition's replication state (below)
//   → { role, highWatermark, logEndOffset, durableOffset, truncations? }

import { z } from "zod";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import type { Engine } from "../engine.ts";
import type { Dispatcher } from "../native/dispatch.ts";

/** Outside Kafka's and Sluice's api keys (1002 is ReplicaFetch; 1003 stays unused: ISR changes go through etcd, cluster/alter_partition.ts). */
export const REPLICA_ROLE_API_KEY = 1004;

const brokerId = z.number().int().min(0).max(2 ** 31 - 1);
const epoch = z.number().int().min(0).max(2 ** 31 - 1);
const base = { topic: z.string().min(1).max(249), partition: z.number().int().min(0).max(2 ** 31 - 1) };
const RoleSchema = z.discriminatedUnion("role", [
  z.object({
    ...base,
    role: z.literal("leader"),
    epoch,
    isr: z.array(brokerId).min(1).max(64),
    replicas: z.array(brokerId).min(1).max(64),
    minInsyncReplicas: z.number().int().min(1).max(64).optional(),
    replicaLagTimeMaxMs: z.number().int().min(1).max(3_600_000).optional(),
  }),
  z.object({ ...base, role: z.literal("follower"), epoch, leader: z.object({ host: z.string().min(1).max(255), port: z.number().int().min(1).max(65_535) }) }),
  z.object({ ...base, role: z.literal("state") }),
]);

export function registerReplicaRoleApi(dispatcher: Dispatcher, engine: Engine): void {
  dispatcher.register(
    REPLICA_ROLE_API_KEY,
    async (body) => {
      const parsed = RoleSchema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new SluiceError(ErrorCode.INVALID_REQUEST, `${issue.path.join(".") || "body"}: ${issue.message}`);
      }
      const r = parsed.data;
      if (r.role === "leader") {
        await engine.becomeLeader(r.topic, r.partition, { epoch: r.epoch, isr: r.isr, replicas: r.replicas, minInsyncReplicas: r.minInsyncReplicas, replicaLagTimeMaxMs: r.replicaLagTimeMaxMs });
      } else if (r.role === "follower") {
        engine.becomeFollower(r.topic, r.partition, { epoch: r.epoch, leader: r.leader });
      }
      const slot = engine.resolve(r.topic, r.partition);
      if (slot < 0) throw new SluiceError(-slot, `partition ${r.topic}-${r.partition} is not open here`);
      const st = engine.pool.state(slot);
      const leader = engine.replication.leaderOf(slot);
      const follower = engine.replication.followerState(r.topic, r.partition);
      return {
        role: leader !== undefined ? "leader" : follower !== undefined ? "follower" : "none",
        highWatermark: engine.topicView().highWatermark(r.topic, r.partition),
        logEndOffset: st.logEndOffset,
        durableOffset: st.durableOffset,
        truncations: follower?.truncations,
      };
    },
    { name: "ReplicaRole" },
  );
}
