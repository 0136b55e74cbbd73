// The one table of wire error codes. Codes and names follow Kafka's, so the
// Kafka-protocol front end can pass them through unchanged and a Kafka user
// recognises them. Callers branch on `code`, never on a class name or message.

import { assert } from "./assert.ts";

export const ErrorCode = {
  UNKNOWN_SERVER_ERROR: -1,
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_FETCH_SIZE: 4,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  BROKER_NOT_AVAILABLE: 8,
  MESSAGE_TOO_LARGE: 10,
  OFFSET_METADATA_TOO_LARGE: 12,
  NETWORK_EXCEPTION: 13,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  INVALID_TOPIC_EXCEPTION: 17,
  RECORD_LIST_TOO_LARGE: 18,
  NOT_ENOUGH_REPLICAS: 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  INVALID_REQUIRED_ACKS: 21,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  INVALID_COMMIT_OFFSET_SIZE: 28,
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  INVALID_TIMESTAMP: 32,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REPLICA_ASSIGNMENT: 39,
  INVALID_CONFIG: 40,
  NOT_CONTROLLER: 41,
  INVALID_REQUEST: 42,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  POLICY_VIOLATION: 44,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  DUPLICATE_SEQUENCE_NUMBER: 46,
  INVALID_PRODUCER_EPOCH: 47,
  INVALID_PRODUCER_ID_MAPPING: 49,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 53,
  KAFKA_STORAGE_ERROR: 56,
  UNKNOWN_PRODUCER_ID: 59,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
  FETCH_SESSION_ID_NOT_FOUND: 70,
  INVALID_FETCH_SESSION_EPOCH: 71,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  STALE_BROKER_EPOCH: 77,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  OFFSET_NOT_AVAILABLE: 78,
  MEMBER_ID_REQUIRED: 79,
  PREFERRED_LEADER_NOT_AVAILABLE: 80,
  GROUP_MAX_SIZE_REACHED: 81,
  FENCED_INSTANCE_ID: 82,
  ELECTION_NOT_NEEDED: 84,
  INVALID_RECORD: 87,
  UNSTABLE_OFFSET_COMMIT: 88,
  THROTTLING_QUOTA_EXCEEDED: 89,
  PRODUCER_FENCED: 90,
  REASSIGNMENT_IN_PROGRESS: 60,
  NO_REASSIGNMENT_IN_PROGRESS: 85,
  INVALID_UPDATE_VERSION: 95,
  UNKNOWN_TOPIC_ID: 100,
  TRANSACTIONAL_ID_NOT_FOUND: 105,
  INELIGIBLE_REPLICA: 107,
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

interface ErrorInfo {
  readonly name: string;
  /** A client may retry the same request after a backoff and expect it to succeed. */
  readonly retriable: boolean;
  readonly message: string;
}

const table = new Map<number, ErrorInfo>();
function define(code: number, retriable: boolean, message: string): void {
  const name = Object.entries(ErrorCode).find(([, c]) => c === code)?.[0];
  assert(name !== undefined, "errors: every defined code has a name", code);
  table.set(code, { name, retriable, message });
}

define(ErrorCode.UNKNOWN_SERVER_ERROR, false, "The server hit an unexpected error.");
define(ErrorCode.NONE, false, "No error.");
define(ErrorCode.OFFSET_OUT_OF_RANGE, false, "The requested offset is outside the range of offsets kept for this partition.");
define(ErrorCode.CORRUPT_MESSAGE, true, "A record batch failed its CRC or structure check.");
define(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, true, "This topic or partition does not exist.");
define(ErrorCode.INVALID_FETCH_SIZE, false, "The requested fetch size is invalid.");
define(ErrorCode.LEADER_NOT_AVAILABLE, true, "The partition is not available right now (starting, recovering or being created).");
define(ErrorCode.NOT_LEADER_OR_FOLLOWER, true, "This broker does not host that partition.");
define(ErrorCode.BROKER_NOT_AVAILABLE, false, "The broker is not registered in the cluster (gone, or not started yet).");
define(ErrorCode.REQUEST_TIMED_OUT, true, "The request timed out.");
define(ErrorCode.MESSAGE_TOO_LARGE, false, "A record batch is larger than the topic's max.message.bytes or the frame limit.");
define(ErrorCode.OFFSET_METADATA_TOO_LARGE, false, "The metadata string of a committed offset is too long.");
define(ErrorCode.NETWORK_EXCEPTION, true, "The connection was lost before a response arrived.");
define(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, true, "The group coordinator is still loading committed offsets.");
define(ErrorCode.COORDINATOR_NOT_AVAILABLE, true, "The group coordinator is not available.");
define(ErrorCode.NOT_COORDINATOR, true, "This broker is not the coordinator of that group.");
define(ErrorCode.INVALID_TOPIC_EXCEPTION, false, "The topic name is invalid or the topic is internal.");
define(ErrorCode.RECORD_LIST_TOO_LARGE, false, "The records of one partition are larger than allowed.");
define(ErrorCode.NOT_ENOUGH_REPLICAS, true, "Fewer in-sync replicas than required; the write was not attempted.");
define(ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, true, "The write was stored but fewer in-sync replicas than required have it.");
define(ErrorCode.INVALID_REQUIRED_ACKS, false, "acks must be 0, 1 or -1 (all).");
define(ErrorCode.ILLEGAL_GENERATION, false, "The group's generation has moved on; rejoin the group.");
define(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, false, "The member's assignors share none with the group.");
define(ErrorCode.INVALID_GROUP_ID, false, "The group id is empty or invalid.");
define(ErrorCode.UNKNOWN_MEMBER_ID, false, "The coordinator does not know this member; rejoin the group.");
define(ErrorCode.INVALID_SESSION_TIMEOUT, false, "The session timeout is outside the broker's allowed range.");
define(ErrorCode.REBALANCE_IN_PROGRESS, false, "The group is rebalancing; rejoin the group.");
define(ErrorCode.INVALID_COMMIT_OFFSET_SIZE, false, "The committed offset or its metadata is invalid.");
define(ErrorCode.TOPIC_AUTHORIZATION_FAILED, false, "Not authorized to access the topic.");
define(ErrorCode.GROUP_AUTHORIZATION_FAILED, false, "Not authorized to access the group.");
define(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, false, "Not authorized for a cluster-wide operation.");
define(ErrorCode.INVALID_TIMESTAMP, false, "A timestamp is out of the acceptable range.");
define(ErrorCode.UNSUPPORTED_VERSION, false, "The broker does not support this api key or version.");
define(ErrorCode.TOPIC_ALREADY_EXISTS, false, "The topic already exists.");
define(ErrorCode.INVALID_PARTITIONS, false, "The partition count is invalid.");
define(ErrorCode.INVALID_REPLICATION_FACTOR, false, "The replication factor is invalid.");
define(ErrorCode.INVALID_REPLICA_ASSIGNMENT, false, "The replica assignment is invalid (a broker twice in one partition, or a partition without replicas).");
define(ErrorCode.INVALID_CONFIG, false, "A configuration value is invalid.");
define(ErrorCode.NOT_CONTROLLER, true, "This broker is not the controller.");
define(ErrorCode.INVALID_REQUEST, false, "The request is malformed.");
define(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, false, "The record format version does not support this request (only v2 record batches are stored).");
define(ErrorCode.POLICY_VIOLATION, false, "The request violates a broker policy.");
define(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, false, "The producer's batch does not follow its last stored sequence number.");
define(ErrorCode.DUPLICATE_SEQUENCE_NUMBER, false, "The batch was stored before (answered as success with its original offsets).");
define(ErrorCode.INVALID_PRODUCER_EPOCH, false, "The producer's epoch is older than the current one: a newer producer with the same id fenced it.");
define(ErrorCode.UNKNOWN_PRODUCER_ID, false, "The broker has no state for this producer id.");
define(ErrorCode.PRODUCER_FENCED, false, "A newer producer with the same id fenced this one.");
define(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, false, "The producer may not use a transactional id: this broker has no transactions.");
define(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, false, "Transactional ids are not supported: transactions do not exist on this broker.");
define(ErrorCode.INVALID_PRODUCER_ID_MAPPING, false, "The producer id is not mapped to this transactional id.");
define(ErrorCode.KAFKA_STORAGE_ERROR, true, "The partition's storage failed (offline) or is full (retry later).");
define(ErrorCode.NON_EMPTY_GROUP, false, "The group has members; the operation needs an empty group.");
define(ErrorCode.GROUP_ID_NOT_FOUND, false, "The group does not exist.");
define(ErrorCode.FETCH_SESSION_ID_NOT_FOUND, true, "The fetch session is not known to this broker.");
define(ErrorCode.INVALID_FETCH_SESSION_EPOCH, true, "The fetch session epoch is not the next expected one.");
define(ErrorCode.FENCED_LEADER_EPOCH, true, "The leader epoch in the request is older than the broker's.");
define(ErrorCode.UNKNOWN_LEADER_EPOCH, true, "The leader epoch in the request is newer than the broker's.");
define(ErrorCode.STALE_BROKER_EPOCH, false, "The request comes from a broker registration (session) that is no longer the current one.");
define(ErrorCode.INVALID_UPDATE_VERSION, false, "The partition epoch in the request is not the current one: read the partition state again, then decide again.");
define(ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE, true, "The preferred leader (first replica) cannot lead now: not registered, shutting down, or not in the ISR.");
define(ErrorCode.ELECTION_NOT_NEEDED, true, "The partition is already led by the leader asked for.");
define(ErrorCode.REASSIGNMENT_IN_PROGRESS, false, "The partition is already being reassigned: wait for the move to finish or cancel it.");
define(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, false, "No reassignment of the partition is in progress.");
define(ErrorCode.INELIGIBLE_REPLICA, false, "A replica proposed into the ISR is not eligible (not registered).");
define(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, false, "The compression codec is unknown, or this runtime cannot write it.");
define(ErrorCode.OFFSET_NOT_AVAILABLE, true, "The offset for that timestamp is not yet available.");
define(ErrorCode.MEMBER_ID_REQUIRED, false, "Join again with the member id the coordinator assigned.");
define(ErrorCode.GROUP_MAX_SIZE_REACHED, false, "The group has as many members as it may.");
define(ErrorCode.FENCED_INSTANCE_ID, false, "Another member with the same group.instance.id took over (static membership).");
define(ErrorCode.INVALID_RECORD, false, "A record failed validation.");
define(ErrorCode.UNSTABLE_OFFSET_COMMIT, true, "Offsets of a pending transaction are not yet stable.");
define(ErrorCode.THROTTLING_QUOTA_EXCEEDED, true, "The broker is over a limit; retry after a backoff.");
define(ErrorCode.UNKNOWN_TOPIC_ID, true, "The topic id is unknown.");

export function errorInfo(code: number): ErrorInfo {
  return table.get(code) ?? { name: `ERROR_${code}`, retriable: false, message: `Unknown error code ${code}.` };
}

export function isRetriable(code: number): boolean {
  return errorInfo(code).retriable;
}

/** An error that carries a wire error code. Thrown by engine, client and codecs alike. */
export class SluiceError extends Error {
  readonly code: number;
  constructor(code: number, message?: string, options?: { cause?: unknown }) {
    super(message ?? errorInfo(code).message, options);
    this.code = code;
    this.name = `SluiceError(${errorInfo(code).name})`;
  }
  get retriable(): boolean {
    return isRetriable(this.code);
  }
}
