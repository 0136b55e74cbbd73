// The Kafka apis this broker speaks, as data: api key, the version range the
// codecs read and write, and the first flexible version (KIP-482). The
// listener answers ApiVersions from this table and picks header versions from
// it; each message codec takes its valid range from it. Change a range here and
// everything follows; nothing else says which versions exist.
//
// Ranges are what the clients we test with need (kcat/librdkafka 2.x, kafkajs
// 2.2.4, @platformatic/kafka, franz-go, the Java 4.x client); flexible-from
// versions are Kafka's own. Produce is listed from 0 because clients choose
// versions from the advertised range, but only v2 batches are stored: the
// listener answers Produce 0–2 (message sets) with UNSUPPORTED_VERSION.

export const KafkaApiKey = {
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
  OffsetForLeaderEpoch: 23,
  DescribeConfigs: 32,
  AlterConfigs: 33,
  CreatePartitions: 37,
  ElectLeaders: 43,
  IncrementalAlterConfigs: 44,
  AlterPartitionReassignments: 45,
  ListPartitionReassignments: 46,
  DescribeCluster: 60,
} as const;
export type KafkaApiKey = (typeof KafkaApiKey)[keyof typeof KafkaApiKey];

export interface KafkaApi {
  readonly key: KafkaApiKey;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** Versions from here on use compact fields, tagged fields and request header v2. */
  readonly firstFlexibleVersion: number;
}

function api(name: keyof typeof KafkaApiKey, minVersion: number, maxVersion: number, firstFlexibleVersion: number): KafkaApi {
  return { key: KafkaApiKey[name], name, minVersion, maxVersion, firstFlexibleVersion };
}

/** Every supported api, ordered by key (the order ApiVersions lists them in). */
export const KAFKA_APIS: readonly KafkaApi[] = [
  api("Produce", 0, 9, 9),
  api("Fetch", 4, 12, 12),
  api("ListOffsets", 1, 7, 6),
  api("Metadata", 0, 12, 9),
  api("OffsetCommit", 2, 8, 8),
  api("OffsetFetch", 1, 8, 6),
  api("FindCoordinator", 0, 4, 3),
  api("JoinGroup", 0, 7, 6),
  api("Heartbeat", 0, 4, 4),
  api("LeaveGroup", 0, 4, 4),
  api("SyncGroup", 0, 5, 4),
  api("DescribeGroups", 0, 5, 5),
  api("ListGroups", 0, 4, 3),
  api("ApiVersions", 0, 3, 3),
  api("CreateTopics", 2, 7, 5),
  api("DeleteTopics", 1, 6, 4),
  api("InitProducerId", 0, 4, 2),
  api("OffsetForLeaderEpoch", 0, 4, 4),
  api("DescribeConfigs", 0, 4, 4),
  api("AlterConfigs", 0, 2, 2),
  api("CreatePartitions", 0, 3, 2),
  api("ElectLeaders", 0, 2, 2),
  api("IncrementalAlterConfigs", 0, 1, 1),
  api("AlterPartitionReassignments", 0, 1, 0),
  api("ListPartitionReassignments", 0, 0, 0),
  api("DescribeCluster", 0, 1, 0),
];

/** The lowest Produce version the broker accepts (v2 record batches start at v3). */
export const PRODUCE_VERSION_ACCEPTED_MIN = 3;

const byKey = new Map<number, KafkaApi>();
for (const a of KAFKA_APIS) {
  if (byKey.has(a.key)) throw new Error(`versions: api key ${a.key} listed twice`);
  if (a.minVersion > a.maxVersion) throw new Error(`versions: ${a.name} has an empty range`);
  byKey.set(a.key, a);
}

/** The api of `key`, or undefined when the broker does not speak it. */
export function kafkaApi(key: number): KafkaApi | undefined {
  return byKey.get(key);
}

/** The api of `key`; throws when it is not in the table (a codec naming an api the table lacks is a bug). */
export function kafkaApiOf(key: KafkaApiKey): KafkaApi {
  const a = byKey.get(key);
  if (a === undefined) throw new Error(`versions: api key ${key} is not in the table`);
  return a;
}

export function isVersionSupported(key: number, version: number): boolean {
  const a = byKey.get(key);
  return a !== undefined && version >= a.minVersion && version <= a.maxVersion;
}

/** Whether `version` of api `key` uses the flexible encoding (false for unknown keys). */
export function isFlexible(key: number, version: number): boolean {
  const a = byKey.get(key);
  return a !== undefined && version >= a.firstFlexibleVersion;
}

/**
 * Request header version: 2 for flexible versions, else 1. (Header v0, without
 * client_id, was only ever used by ControlledShutdown v0, a broker-to-broker api.)
 */
export function requestHeaderVersion(key: number, version: number): 1 | 2 {
  return isFlexible(key, version) ? 2 : 1;
}

/**
 * Response header version: 1 (with tagged fields) for flexible versions, else
 * 0. ApiVersions always answers with header v0, even when flexible (KIP-511):
 * a client that sent a version the broker does not know must still be able to
 * read the correlation id and the v0 error body.
 */
export function responseHeaderVersion(key: number, version: number): 0 | 1 {
  if (key === KafkaApiKey.ApiVersions) return 0;
  return isFlexible(key, version) ? 1 : 0;
}
