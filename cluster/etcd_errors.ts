// The etcd client's errors: one small class per condition, each with a `code`
// callers branch on (never the class name or the message).

export const EtcdErrorCode = {
  /** No member answered within the call's deadline (down, unreachable, or without a Raft leader). */
  UNREACHABLE: "ETCD_UNREACHABLE",
  /** A transaction's compares did not hold (the caller's view is stale, or it was fenced). */
  TXN_FAILED: "ETCD_TXN_FAILED",
  /** The lease does not exist any more: it expired or was revoked. */
  LEASE_EXPIRED: "ETCD_LEASE_EXPIRED",
  /** The revision asked for was compacted away: re-read, then watch from the new revision. */
  COMPACTED: "ETCD_COMPACTED",
  /** etcd refused the request (bad argument, too large, permission): retrying will not help. */
  REJECTED: "ETCD_REJECTED",
  /** A response that is not what the v3 gateway sends (not JSON, over the size limit, missing fields). */
  BAD_RESPONSE: "ETCD_BAD_RESPONSE",
} as const;

export type EtcdErrorCode = (typeof EtcdErrorCode)[keyof typeof EtcdErrorCode];

export class EtcdError extends Error {
  readonly code: EtcdErrorCode;
  constructor(code: EtcdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = `EtcdError(${code})`;
  }
}

export class EtcdUnreachableError extends EtcdError {
  /** What each member answered last, for the message an operator reads. */
  readonly attempts: readonly string[];
  constructor(endpoints: readonly string[], attempts: readonly string[], timeoutMs: number, options?: { cause?: unknown }) {
    super(
      EtcdErrorCode.UNREACHABLE,
      `etcd unreachable: no member of ${endpoints.join(",")} answered within ${timeoutMs} ms (${attempts.slice(-endpoints.length).join("; ")})`,
      options,
    );
    this.attempts = attempts;
  }
}

export class EtcdTxnFailedError extends EtcdError {
  constructor(message: string) {
    super(EtcdErrorCode.TXN_FAILED, message);
  }
}

export class EtcdLeaseExpiredError extends EtcdError {
  readonly leaseId: string;
  constructor(leaseId: string, message = `etcd lease ${leaseId} expired or was revoked`) {
    super(EtcdErrorCode.LEASE_EXPIRED, message);
    this.leaseId = leaseId;
  }
}

export class EtcdCompactedError extends EtcdError {
  /** The oldest revision etcd still has (0 when it did not say). */
  readonly compactRevision: number;
  constructor(compactRevision: number, message = `etcd revision compacted (compact revision ${compactRevision})`) {
    super(EtcdErrorCode.COMPACTED, message);
    this.compactRevision = compactRevision;
  }
}

export class EtcdRejectedError extends EtcdError {
  /** The gRPC status code etcd answered with. */
  readonly grpcCode: number;
  constructor(grpcCode: number, message: string) {
    super(EtcdErrorCode.REJECTED, message);
    this.grpcCode = grpcCode;
  }
}

export class EtcdBadResponseError extends EtcdError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(EtcdErrorCode.BAD_RESPONSE, message, options);
  }
}
