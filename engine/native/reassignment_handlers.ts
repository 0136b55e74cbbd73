// The native admin apis on partition placement (protocol/messages/reassignments.ts;
// docs/SCALING.md, "The admin API"): AlterPartitionReassignments,
// ListPartitionReassignments, DescribeCluster, ProposeReassignment and
// BalanceByLoad. Any broker of a cluster serves them from its view and hands
// changes to the controller under its session lease
// (cluster/reassignment_admin.ts), as ElectLeaders does. A single node has
// nothing to move: INVALID_REQUEST, as its ElectLeaders answers (its
// DescribeCluster answers with itself).

import { alterReassignments, balanceByLoad, listReassignments, proposeFromView } from "../../cluster/mod.ts";
import { clusterMemberOf, reassignmentHost } from "../cluster_admin.ts";
import { ApiKey } from "../../protocol/api_keys.ts";
import { parseControlBody } from "../../protocol/messages/control.ts";
import {
  AlterPartitionReassignmentsRequestSchema,
  type AlterPartitionReassignmentsResponse,
  BalanceByLoadRequestSchema,
  type BalanceByLoadResponse,
  DescribeClusterRequestSchema,
  type DescribeClusterResponse,
  ListPartitionReassignmentsRequestSchema,
  type ListPartitionReassignmentsResponse,
  ProposeReassignmentRequestSchema,
  type ProposeReassignmentResponse,
} from "../../protocol/messages/reassignments.ts";
import type { Engine } from "../engine.ts";
import type { Dispatcher } from "./dispatch.ts";

export function registerReassignmentHandlers(dispatcher: Dispatcher, options: { engine: Engine; advertised: () => { host: string; port: number }; nodeId: number }): void {
  const { engine } = options;

  dispatcher.register(ApiKey.AlterPartitionReassignments, async (body): Promise<AlterPartitionReassignmentsResponse> => {
    const req = parseControlBody(AlterPartitionReassignmentsRequestSchema, body);
    const member = clusterMemberOf(engine, "replica to move");
    const partitions = await alterReassignments(reassignmentHost(member), req.partitions, req.throttleBytesPerSec ?? null);
    return { partitions: partitions.map((p) => ({ ...p })) };
  });

  dispatcher.register(ApiKey.ListPartitionReassignments, async (body): Promise<ListPartitionReassignmentsResponse> => {
    const req = parseControlBody(ListPartitionReassignmentsRequestSchema, body);
    const member = clusterMemberOf(engine, "partition move to list");
    const only = req.topics === null ? null : new Map(req.topics.map((t) => [t.name, t.partitions]));
    const progress = req.progress ?? false;
    return { progress, partitions: await listReassignments(member.view, only, progress) };
  });

  dispatcher.register(ApiKey.DescribeCluster, (body): DescribeClusterResponse => {
    parseControlBody(DescribeClusterRequestSchema, body);
    const member = engine.clusterMember;
    const cluster = engine.cluster;
    if (member === undefined || cluster === undefined) {
      const { host, port } = options.advertised();
      return { clusterName: null, controllerId: options.nodeId, brokers: [{ nodeId: options.nodeId, host, port, kafkaPort: null, httpPort: null, rack: null }] };
    }
    return {
      clusterName: member.keys.cluster,
      controllerId: cluster.controllerId,
      brokers: cluster.brokers().map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, kafkaPort: b.kafkaPort, httpPort: b.httpPort === 0 ? null : b.httpPort, rack: b.rack })),
    };
  });

  dispatcher.register(ApiKey.ProposeReassignment, (body): ProposeReassignmentResponse => {
    const req = parseControlBody(ProposeReassignmentRequestSchema, body);
    const member = clusterMemberOf(engine, "replica to move");
    const g = proposeFromView(member.view, req.brokers, req.topics);
    return { plan: { version: 1, partitions: g.plan.partitions.map((p) => ({ ...p, replicas: [...p.replicas] })) }, moves: g.moves, leaderChanges: g.leaderChanges, before: g.before, after: g.after };
  });

  dispatcher.register(ApiKey.BalanceByLoad, async (body): Promise<BalanceByLoadResponse> => {
    parseControlBody(BalanceByLoadRequestSchema, body);
    const member = clusterMemberOf(engine, "load to balance");
    const r = await balanceByLoad(reassignmentHost(member));
    return {
      plan: { version: 1, partitions: r.plan.partitions.map((p) => ({ ...p, replicas: [...p.replicas] })) },
      moves: r.moves,
      leaderChanges: r.leaderChanges,
      bytesToCopy: r.bytesToCopy,
      before: r.before,
      after: r.after,
      silentBrokers: r.silentBrokers,
    };
  });
}
