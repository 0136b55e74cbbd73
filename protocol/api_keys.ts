// The api keys of the Sluice protocol (docs/PROTOCOL.md, "Api keys") and the
// versions this build speaks. Every api is at version 0; an unknown key or
// version is answered with UNSUPPORTED_VERSION.

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  InitProducerId: 22,
  AlterConfigs: 33,
  CreatePartitions: 37,
  /** Preferred leader elections in a cluster (Kafka's number; MessagePack body, preferred only: docs/SCALING.md). */
  ElectLeaders: 43,
  /** Start or cancel partition moves in a cluster (Kafka's number, KIP-455; MessagePack body: messages/reassignments.ts). */
  AlterPartitionReassignments: 45,
  /** The partition moves in progress, with bytes copied and remaining on request. */
  ListPartitionReassignments: 46,
  /** The brokers (with rack and ports) and the controller. */
  DescribeCluster: 60,
  DescribeTopics: 1000,
  ResetGroupOffsets: 1001,
  /** A follower broker's fetch from a partition leader (docs/CLUSTER.md). */
  ReplicaFetch: 1002,
  /** A balanced reassignment plan over a set of brokers (`sluice partitions reassign --generate`). */
  ProposeReassignment: 1005,
  /** A reassignment plan that evens out bytes per second per broker (`sluice cluster balance --by-load`). */
  BalanceByLoad: 1006,
} as const;
export type ApiKey = (typeof ApiKey)[keyof typeof ApiKey];

/** How a request body after the frame header is encoded. */
export const BodyEncoding = { BINARY: "binary", MSGPACK: "msgpack" } as const;
export type BodyEncoding = (typeof BodyEncoding)[keyof typeof BodyEncoding];

export interface ApiInfo {
  readonly key: ApiKey;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly body: BodyEncoding;
}

const BINARY_APIS: ReadonlySet<number> = new Set([ApiKey.Produce, ApiKey.Fetch, ApiKey.ReplicaFetch]);

/** Every api this build supports, in key order. */
export const SUPPORTED_APIS: readonly ApiInfo[] = Object.entries(ApiKey)
  .map(([name, key]) => ({
    key,
    name,
    minVersion: 0,
    maxVersion: 0,
    body: BINARY_APIS.has(key) ? BodyEncoding.BINARY : BodyEncoding.MSGPACK,
  }))
  .sort((a, b) => a.key - b.key);

const byKey = new Map<number, ApiInfo>(SUPPORTED_APIS.map((a) => [a.key, a]));

export function apiInfo(key: number): ApiInfo | undefined {
  return byKey.get(key);
}

/** The api's name for logs and errors ("Produce"), or "api <key>" when unknown. */
export function apiName(key: number): string {
  return byKey.get(key)?.name ?? `api ${key}`;
}

export function isSupportedVersion(key: number, version: number): boolean {
  const info = byKey.get(key);
  return info !== undefined && version >= info.minVersion && version <= info.maxVersion;
}

/** The ApiVersions table: [key, minVersion, maxVersion] per api. */
export function apiVersionsTable(): Array<[number, number, number]> {
  return SUPPORTED_APIS.map((a) => [a.key, a.minVersion, a.maxVersion]);
}
