// Who this broker is to Kafka clients: one node, leader of every partition.
// (A cluster will give each node its own id; until then every answer that
// names a broker names this one.)

/** The node id of this broker in Metadata, FindCoordinator and DescribeCluster. */
export const KAFKA_NODE_ID = 0;

/** The cluster id Kafka clients see (Metadata v2+, DescribeCluster). */
export const KAFKA_CLUSTER_ID = "sluice-single-node";

/** Leader epoch of every partition: one node, never a leader change. */
export const KAFKA_LEADER_EPOCH = 0;
