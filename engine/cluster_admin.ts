// What both protocol front ends (native/reassignment_handlers.ts and the
// Kafka adapter's elect_leaders.ts, alter_partition_reassignments.ts,
// list_partition_reassignments.ts) need to serve the cluster admin calls:
// this broker's cluster membership, or the single node's one refusal.

import { type ClusterMember, type ReassignmentHost } from "../cluster/mod.ts";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import type { Engine } from "./engine.ts";

/**
 * The broker's membership; a single node throws INVALID_REQUEST, the code its
 * ElectLeaders answers with (it holds the only copy of every partition).
 */
export function clusterMemberOf(engine: Engine, what: string): ClusterMember {
  const member = engine.clusterMember;
  if (member === undefined) {
    throw new SluiceError(ErrorCode.INVALID_REQUEST, `this broker is a single node (no --cluster-etcd): it holds the only copy of every partition, there is no ${what}`);
  }
  return member;
}

/** The member as cluster/reassignment_admin.ts takes it. */
export function reassignmentHost(member: ClusterMember): ReassignmentHost {
  return { view: member.view, requestTopicChange: (r) => member.requestTopicChange(r), readLoadReports: () => member.readLoadReports() };
}
