// The public face of the partition log (workers/log/): what the partition
// worker's host imports. Everything here runs on the worker thread that owns
// the partition; see log_appender.ts for the durability contract.

export { TOPIC_CONFIG_DEFAULTS, parseTopicConfig, topicConfigEntries } from "./log_config.ts";
export type { LogConfig, TimestampType } from "./log_config.ts";
export { FaultyFileOps, realFileOps } from "./file_ops.ts";
export type { CrashMode, FaultPlan, FileOps, OpenFlags } from "./file_ops.ts";
export { LogError } from "./log_error.ts";
export { PartitionLog } from "./partition_log.ts";
export type { AppendResult, EpochEndOffset, EpochEntry, OpenOptions, ReadPlan, ReadPlanResult, TimestampedOffset, TruncateResult } from "./partition_log.ts";
export { NO_LEADER_EPOCH, UNDEFINED_EPOCH_OFFSET } from "./leader_epoch_cache.ts";
export { ReplicaLogError, type ReplicaLogErrorReason } from "./replica_log_error.ts";
export type { RecoveryStats } from "./recovery.ts";
export { replayJournals, type JournalReplayReport } from "./journal_replay.ts";
export { WorkerJournal, workerJournalPath } from "./worker_journal.ts";
