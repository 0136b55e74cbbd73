// The shapes the API answers with (engine/http/*.ts defines them; docs/CONSOLE.md documents them).

export interface Throughput {
  messagesInPerSec: number;
  bytesInPerSec: number;
  messagesOutPerSec: number;
  bytesOutPerSec: number;
}

export interface TopicSummary {
  name: string;
  partitions: number;
  bytes: number;
  messages: number;
  messagesInPerSec: number;
  bytesInPerSec: number;
  offlinePartitions: number;
}

export interface GroupSummary {
  groupId: string;
  state: string;
  generationId: number;
  members: number;
  lag: number;
}

export interface Snapshot {
  atMs: number;
  broker: {
    nodeId: number;
    host: string;
    port: number;
    httpPort: number;
    version: string;
    workers: number;
    connections: number;
    uptimeMs: number;
    partitions: number;
    partitionsOffline: number;
    rssBytes: number;
  };
  throughput: Throughput;
  topics: TopicSummary[];
  topicsTotal: number;
  groups: GroupSummary[];
  groupsTotal: number;
  groupsAvailable: boolean;
  /** Cluster mode only. */
  cluster?: ClusterSummary;
}

export interface ClusterBroker {
  nodeId: number;
  host: string;
  port: number;
  kafkaPort: number | null;
  httpPort: number;
  rack: string | null;
}

export interface ClusterSummary {
  brokers: ClusterBroker[];
  controllerId: number;
  controllerEpoch: number;
  partitions: { total: number; offline: number; underReplicated: number };
}

export interface PartitionView {
  partition: number;
  online: boolean;
  logStartOffset: number;
  highWatermark: number;
  segments: number;
  bytes: number;
  messagesInPerSec: number;
  bytesInPerSec: number;
  share: number;
  hot: boolean;
  /** Cluster mode only: as etcd says. */
  leader?: number;
  leaderEpoch?: number;
  replicas?: number[];
  isr?: number[];
}

export interface TopicView {
  name: string;
  partitions: PartitionView[];
  configs: Record<string, string>;
  bytes: number;
  messages: number;
  messagesInPerSec: number;
  bytesInPerSec: number;
}

export type FieldView = null | { kind: "json" | "text" | "binary"; size: number; text: string; truncated: boolean };

export interface BrowsedRecord {
  offset: number;
  timestamp: number;
  key: FieldView;
  value: FieldView;
  headers: { key: string; value: FieldView }[];
  headersNotShown: number;
}

export interface BrowsePage {
  topic: string;
  partition: number;
  logStartOffset: number;
  highWatermark: number;
  startOffset: number;
  nextOffset: number;
  records: BrowsedRecord[];
  undecoded: { baseOffset: number; lastOffset: number; message: string }[];
  bytesRead: number;
  reads: number;
}

export interface GroupPage {
  groupId: string;
  state: string;
  generationId: number;
  assignor: string;
  leaderId: string;
  members: { memberId: string; clientId: string; topics: string[]; assignment: { topic: string; partitions: number[] }[]; lastSeenAgoMs: number }[];
  offsets: { topic: string; partition: number; committedOffset: number; highWatermark: number; lag: number; memberId: string }[];
  lag: number;
  lagHistory: number[][] | null;
}
