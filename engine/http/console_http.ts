// The web console on the broker's HTTP port: the page and its assets, and the
// JSON API under /api/v1/ that the page uses (docs/CONSOLE.md lists it).
// engine/broker.ts hands every HTTP request here first; what is not the
// console's (/healthz, /metrics) goes back to the broker's own routes.
//
// Every route is served from state the broker keeps (the engine's topics and
// partition state table, the live sampler's last snapshot, the group
// coordinator's handlers) or through the engine's own fetch / list-offsets /
// produce with bounded work; the data path never waits for the console.
// Changing requests (POST, PATCH, DELETE) must carry JSON
// (content-type application/json): a page of another origin cannot send one
// without a CORS preflight, which the console never grants.

import type { Engine } from "../engine.ts";
import { FetchReadBudget } from "../fetch_read_budget.ts";
import type { Dispatcher } from "../native/dispatch.ts";
import { ApiError, errorResponse, toApiError } from "./api_errors.ts";
import { intValue, jsonBody, pathSegment, queryValue, topicParam } from "./api_params.ts";
import { browse, parseBrowseQuery } from "./browse_api.ts";
import { ConsoleAssets } from "./console_assets.ts";
import { BROWSE_READ_BYTES_MAX, DATA_REQUESTS_IN_FLIGHT_MAX, URL_LENGTH_MAX } from "./console_limits.ts";
import { EventStreams } from "./event_streams.ts";
import { describeGroup, resetOffsets } from "./groups_api.ts";
import { GroupsSource } from "./groups_source.ts";
import { type BrokerInfo, LiveSampler } from "./live_sampler.ts";
import { ConsoleProducer } from "./produce_api.ts";
import { addPartitions, alterConfig, createTopic, deleteTopic, describeTopic } from "./topics_api.ts";
import { PARTITIONS_PER_TOPIC_MAX } from "../../protocol/limits.ts";

export interface ConsoleHttpOptions {
  engine: Engine;
  dispatcher: Dispatcher;
  brokerInfo: () => BrokerInfo;
}

type Handler = (req: Request, url: URL, params: string[]) => Promise<Response> | Response;

interface Route {
  method: string;
  /** Path segments after /api/v1/; ":" matches one segment, passed to the handler in order. */
  pattern: string[];
  handler: Handler;
}

export class ConsoleHttp {
  readonly #engine: Engine;
  readonly #groups: GroupsSource;
  readonly #sampler: LiveSampler;
  readonly #streams = new EventStreams();
  readonly #assets = new ConsoleAssets();
  readonly #producer: ConsoleProducer;
  /** Every console read holds its bytes here while in a worker's ring: one client's worth, as a connection has. */
  readonly #readBudget = new FetchReadBudget({ bytesMax: 2 * BROWSE_READ_BYTES_MAX });
  readonly #routes: Route[];
  #dataRequests = 0;

  constructor(options: ConsoleHttpOptions) {
    this.#engine = options.engine;
    this.#groups = new GroupsSource(options.dispatcher);
    this.#sampler = new LiveSampler({ engine: options.engine, groups: this.#groups, brokerInfo: options.brokerInfo });
    this.#producer = new ConsoleProducer(options.engine);
    this.#sampler.onSnapshot((s) => this.#streams.broadcast("snapshot", s));
    this.#routes = this.#table();
  }

  start(): void {
    this.#sampler.start();
  }

  /** Ends the event streams and the sampler (broker stop). */
  close(): void {
    this.#sampler.stop();
    this.#streams.close();
    this.#readBudget.close();
  }

  /** The response when `req` is the console's, else null (the broker's own routes answer it). */
  route(req: Request): Promise<Response> | null {
    const url = new URL(req.url);
    const path = url.pathname;
    const isApi = path === "/api/v1" || path.startsWith("/api/v1/");
    const isPage = path === "/" || path === "/index.html" || path.startsWith("/assets/");
    if (!isApi && !isPage) return null;
    return this.#answer(req, url, isApi).catch((e) => errorResponse(toApiError(e)));
  }

  async #answer(req: Request, url: URL, isApi: boolean): Promise<Response> {
    if (req.url.length > URL_LENGTH_MAX) throw new ApiError(414, "INVALID_REQUEST", `the URL is longer than ${URL_LENGTH_MAX} characters`);
    if (!isApi) {
      if (req.method !== "GET" && req.method !== "HEAD") throw new ApiError(405, "INVALID_REQUEST", `${req.method} is not allowed here`);
      const res = await this.#assets.serve(url.pathname, req.headers.get("accept-encoding") ?? "");
      if (res === null) throw new ApiError(404, "INVALID_REQUEST", `no such file: ${url.pathname}`);
      return res;
    }
    const segments = url.pathname.slice("/api/v1".length).split("/").filter((s) => s !== "");
    let pathMatched = false;
    for (const r of this.#routes) {
      const params = match(r.pattern, segments);
      if (params === null) continue;
      pathMatched = true;
      if (r.method !== req.method && !(r.method === "GET" && req.method === "HEAD")) continue;
      if (req.method === "POST" || req.method === "PATCH") {
        const type = req.headers.get("content-type") ?? "";
        if (!type.toLowerCase().startsWith("application/json")) {
          throw new ApiError(415, "INVALID_REQUEST", "send the body as JSON (content-type: application/json)");
        }
      }
      return await r.handler(req, url, params);
    }
    if (pathMatched) throw new ApiError(405, "INVALID_REQUEST", `${req.method} is not allowed on ${url.pathname}`);
    throw new ApiError(404, "INVALID_REQUEST", `no such API: ${url.pathname.slice(0, 200)}`);
  }

  /** Runs a request that reads or writes partition data, bounded by DATA_REQUESTS_IN_FLIGHT_MAX. */
  async #data<T>(work: () => Promise<T>): Promise<T> {
    if (this.#dataRequests >= DATA_REQUESTS_IN_FLIGHT_MAX) {
      throw new ApiError(429, "THROTTLING_QUOTA_EXCEEDED", `${DATA_REQUESTS_IN_FLIGHT_MAX} console reads or produces are running already; retry in a moment`);
    }
    this.#dataRequests++;
    try {
      return await work();
    } finally {
      this.#dataRequests--;
    }
  }

  #table(): Route[] {
    const engine = this.#engine;
    const groups = this.#groups;
    const sampler = this.#sampler;
    const ok = (body: unknown, status = 200) => json(body, status);
    return [
      { method: "GET", pattern: ["overview"], handler: async () => ok(await sampler.snapshot()) },
      { method: "GET", pattern: ["history"], handler: () => ok({ columns: ["time", "messagesInPerSec", "bytesInPerSec", "messagesOutPerSec", "bytesOutPerSec"], data: sampler.throughputHistory() }) },
      { method: "GET", pattern: ["events"], handler: async (req) => this.#streams.open(req.signal, await sampler.snapshot()) },
      {
        method: "GET",
        pattern: ["topics"],
        handler: async () => {
          const s = await sampler.snapshot();
          return ok({ topics: s.topics, total: s.topicsTotal });
        },
      },
      { method: "POST", pattern: ["topics"], handler: async (req) => ok(await createTopic(engine, await jsonBody(req)), 201) },
      { method: "GET", pattern: ["topics", ":"], handler: (_req, _url, [t]) => ok(describeTopic(engine, topicParam(t))) },
      {
        method: "DELETE",
        pattern: ["topics", ":"],
        handler: async (_req, url, [t]) => ok(await deleteTopic(engine, topicParam(t), queryValue(url, "confirm"))),
      },
      { method: "PATCH", pattern: ["topics", ":", "config"], handler: async (req, _url, [t]) => ok(await alterConfig(engine, topicParam(t), await jsonBody(req))) },
      { method: "POST", pattern: ["topics", ":", "partitions"], handler: async (req, _url, [t]) => ok(await addPartitions(engine, topicParam(t), await jsonBody(req))) },
      {
        method: "POST",
        pattern: ["topics", ":", "records"],
        handler: async (req, _url, [t]) => {
          const topic = topicParam(t);
          const body = await jsonBody(req);
          return ok(await this.#data(() => this.#producer.produce(topic, body)), 201);
        },
      },
      {
        method: "GET",
        pattern: ["topics", ":", "partitions", ":", "records"],
        handler: async (_req, url, [t, p]) => {
          const topic = topicParam(t);
          const partition = intValue(pathSegment(p, "partition"), "partition", 0, PARTITIONS_PER_TOPIC_MAX - 1);
          const query = parseBrowseQuery(url);
          return ok(await this.#data(() => browse(engine, this.#readBudget, topic, partition, query)));
        },
      },
      {
        method: "GET",
        pattern: ["groups"],
        handler: async () => {
          const s = await sampler.snapshot();
          return ok({ available: s.groupsAvailable, groups: s.groups, total: s.groupsTotal });
        },
      },
      { method: "GET", pattern: ["groups", ":"], handler: async (_req, _url, [g]) => ok(await describeGroup(groups, sampler, pathSegment(g, "group"))) },
      {
        method: "POST",
        pattern: ["groups", ":", "reset-offsets"],
        handler: async (req, _url, [g]) => ok(await resetOffsets(groups, pathSegment(g, "group"), await jsonBody(req))),
      },
    ];
  }
}

function match(pattern: string[], segments: string[]): string[] | null {
  if (pattern.length !== segments.length) return null;
  const params: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === ":") params.push(segments[i]);
    else if (pattern[i] !== segments[i]) return null;
  }
  return params;
}

function json(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" },
  });
}
