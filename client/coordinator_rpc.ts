// The group APIs sent to each group's coordinator (docs/PROTOCOL.md,
// FindCoordinator): the first call for a group asks a bootstrap broker
// which broker coordinates it (FindCoordinator, api 10) and sends there, on
// a link per coordinator address. A call answered NOT_COORDINATOR,
// COORDINATOR_NOT_AVAILABLE or COORDINATOR_LOAD_IN_PROGRESS, or whose
// connection failed, forgets that group's coordinator, finds it again and
// sends again, with a doubling backoff, until the call's own deadline. On a
// single node the coordinator is the bootstrap broker; a broker without
// FindCoordinator (UNSUPPORTED_VERSION) is taken to coordinate every group.
//
// Sending again is safe for every group api: a commit writes the same
// offsets, a fetch or describe reads, and a join, sync, heartbeat or leave at
// a new coordinator that does not know the member answers UNKNOWN_MEMBER_ID,
// which the membership handles by joining as new (client/group_membership.ts).
//
// ListGroups names no group: call() sends it to the bootstrap broker (which
// lists the groups it coordinates); callEveryBroker() asks every broker the
// bootstrap's Metadata names (a cluster's groups are spread over them).

import { decode } from "@msgpack/msgpack";
import { ErrorCode, SluiceError } from "../protocol/errors.ts";
import { encodeGroupMessage, FindCoordinatorResponseSchema, GroupApiKey, parseGroupMessage } from "../protocol/messages/groups.ts";
import { decodeResponseEnvelope } from "../protocol/messages/response.ts";
import { ApiKey } from "../protocol/api_keys.ts";
import { BrokerLink, controlCall } from "./broker_link.ts";
import { COORDINATOR_GROUPS_KNOWN_MAX, COORDINATOR_LINKS_MAX } from "./client_limits.ts";
import type { GroupRpc } from "./group_membership.ts";
import type { ClientConfig } from "./options.ts";

/** Codes after which the coordinator is looked up again (Kafka clients do the same). */
export function isCoordinatorMoved(code: number): boolean {
  return (
    code === ErrorCode.NOT_COORDINATOR ||
    code === ErrorCode.COORDINATOR_NOT_AVAILABLE ||
    code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ||
    code === ErrorCode.NETWORK_EXCEPTION ||
    code === ErrorCode.REQUEST_TIMED_OUT
  );
}

const RETRY_BACKOFF_MS = 50;
const RETRY_BACKOFF_MS_MAX = 1_000;

export class CoordinatorRpc implements GroupRpc {
  readonly #config: ClientConfig;
  readonly #bootstrap: BrokerLink;
  /** "host:port" → its link (the bootstrap link under the bootstrap's own address too). */
  readonly #links = new Map<string, BrokerLink>();
  /** groupId → "host:port" of its coordinator. */
  readonly #coordinators = new Map<string, string>();
  #closed = false;
  /** FindCoordinator calls sent (tests read it). */
  lookups = 0;

  constructor(config: ClientConfig) {
    this.#config = config;
    this.#bootstrap = new BrokerLink(config, "group client");
  }

  /** Opens the bootstrap link (a broker that cannot be reached fails here, as before). */
  async connect(): Promise<void> {
    await this.#bootstrap.connect();
  }

  async call(apiKey: number, body: unknown, timeoutMs: number): Promise<unknown> {
    const groupId = groupOf(apiKey, body);
    if (groupId === undefined) return this.#send(this.#bootstrap, apiKey, body, timeoutMs);
    const deadline = Date.now() + timeoutMs;
    let backoff = RETRY_BACKOFF_MS;
    for (;;) {
      let code: number;
      let error: unknown;
      try {
        const link = await this.#coordinatorLink(groupId);
        return await this.#send(link, apiKey, body, Math.max(1, deadline - Date.now()));
      } catch (e) {
        error = e;
        code = e instanceof SluiceError ? e.code : ErrorCode.UNKNOWN_SERVER_ERROR;
      }
      if (this.#closed || !isCoordinatorMoved(code) || Date.now() + backoff >= deadline) throw error;
      this.#coordinators.delete(groupId);
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, RETRY_BACKOFF_MS_MAX);
    }
  }

  /** Sends the request to every broker the bootstrap's Metadata lists (one broker: the bootstrap); the answers in broker order. */
  async callEveryBroker(apiKey: number, body: unknown, timeoutMs: number): Promise<unknown[]> {
    const metadata = await controlCall(this.#bootstrap, ApiKey.Metadata, { topics: [], allowAutoCreate: false });
    if (metadata.brokers.length <= 1) return [await this.#send(this.#bootstrap, apiKey, body, timeoutMs)];
    return await Promise.all(metadata.brokers.map((b) => this.#send(this.#linkTo(b.host, b.port), apiKey, body, timeoutMs)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
    this.#bootstrap.close();
  }

  async #coordinatorLink(groupId: string): Promise<BrokerLink> {
    const known = this.#coordinators.get(groupId);
    if (known !== undefined) return this.#links.get(known) ?? this.#bootstrap;
    this.lookups++;
    let found;
    try {
      found = parseGroupMessage(FindCoordinatorResponseSchema, await this.#send(this.#bootstrap, GroupApiKey.FindCoordinator, { groupId }, this.#config.requestTimeoutMs));
    } catch (e) {
      // A broker that predates FindCoordinator coordinates every group itself (one node).
      if (e instanceof SluiceError && e.code === ErrorCode.UNSUPPORTED_VERSION) return this.#bootstrap;
      throw e;
    }
    const link = this.#linkTo(found.host, found.port);
    if (this.#coordinators.size >= COORDINATOR_GROUPS_KNOWN_MAX) this.#coordinators.clear();
    this.#coordinators.set(groupId, `${found.host}:${found.port}`);
    return link;
  }

  /** The link to a broker's address (opened on first use; at most COORDINATOR_LINKS_MAX, then all are closed and found again). */
  #linkTo(host: string, port: number): BrokerLink {
    const address = `${host}:${port}`;
    let link = this.#links.get(address);
    if (link === undefined) {
      if (this.#links.size >= COORDINATOR_LINKS_MAX) {
        for (const l of this.#links.values()) l.close();
        this.#links.clear();
        this.#coordinators.clear();
      }
      link = new BrokerLink({ ...this.#config, host, port, bootstrap: [{ host, port }] }, "group coordinator");
      this.#links.set(address, link);
    }
    return link;
  }

  async #send(link: BrokerLink, apiKey: number, body: unknown, timeoutMs: number): Promise<unknown> {
    const payload = encodeGroupMessage(body);
    const raw = await link.request(apiKey, (w) => w.writeRaw(payload), {
      // A JoinGroup is held by the broker up to the rebalance timeout: the link must not time it out first.
      extraTimeoutMs: Math.max(0, timeoutMs - this.#config.requestTimeoutMs),
    });
    const envelope = decodeResponseEnvelope(raw);
    if (envelope.errorCode !== ErrorCode.NONE) throw new SluiceError(envelope.errorCode, (envelope as { message: string }).message);
    const bytes = (envelope as { body: Uint8Array }).body;
    if (bytes.length === 0) return {};
    try {
      return decode(bytes);
    } catch (cause) {
      throw new SluiceError(ErrorCode.CORRUPT_MESSAGE, `group api ${apiKey}: the response is not MessagePack`, { cause });
    }
  }
}

/** The group a request is about (DescribeGroups: its first group); undefined for ListGroups. */
function groupOf(apiKey: number, body: unknown): string | undefined {
  if (apiKey === GroupApiKey.ListGroups || typeof body !== "object" || body === null) return undefined;
  const b = body as { groupId?: unknown; groupIds?: unknown };
  if (typeof b.groupId === "string") return b.groupId;
  if (Array.isArray(b.groupIds) && typeof b.groupIds[0] === "string") return b.groupIds[0];
  return undefined;
}
