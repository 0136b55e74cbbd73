// A whole broker: the engine (topics, worker pool, recovery), the native
// protocol server, the Kafka protocol server (unless kafkaPort is -1), the HTTP endpoints (/healthz, /metrics) and any plugins
// (the group coordinator is one), started and stopped in the right order.
//
// Start: engine (metadata + every partition recovered) → dispatcher with the
// core handlers → plugins (may register handlers and metric providers) →
// native listener → Kafka listener → HTTP listener. Nothing is served before recovery ends.
//
// Stop (graceful, SIGTERM/SIGINT): stop accepting and reading; parked fetches
// answer now; wait (bounded by shutdownTimeoutMs) for every request read to be
// answered — in-flight acks=all produces get their fsync — then plugins close,
// the engine flushes (fdatasync), checkpoints and stops its workers, and the
// HTTP listener stops.

import { collectFully } from "../runtime/gc_bun.ts";
import { serveHttp, type HttpListener } from "../runtime/http_bun.ts";
import type { BrokerConfig } from "./broker_config.ts";
import { registerBrokerMetrics } from "./broker_metrics.ts";
import { ConnectionBudget } from "./connection/connection_budget.ts";
import { Engine } from "./engine.ts";
import { ConsoleHttp } from "./http/console_http.ts";
import { MemoryGovernor } from "./memory_governor.ts";
import { MetricsRegistry } from "./metrics.ts";
import type { KafkaHandler } from "./kafka/kafka_request.ts";
import { KafkaServer } from "./kafka/kafka_server.ts";
import { BROKER_VERSION, NODE_ID, registerCoreHandlers } from "./native/control_handlers.ts";
import { Dispatcher } from "./native/dispatch.ts";
import { registerReplicaRoleApi } from "./replication/replica_role_api.ts";
import { NativeServer } from "./native/server.ts";
import type { PartitionPool } from "./partition_pool.ts";
import type { LogConfig } from "./topic_config.ts";

/** What a plugin gets to hook into at start. */
export interface BrokerContext {
  readonly config: BrokerConfig;
  readonly engine: Engine;
  /** Register control apis: `dispatcher.register(apiKey, (body, ctx) => result)`. */
  readonly dispatcher: Dispatcher;
  /** Register metric families: `metrics.addProvider(() => promText)`. */
  readonly metrics: MetricsRegistry;
  /** Kafka apis to serve beside the core ones (api key → handler); read when the Kafka listener starts. */
  readonly kafkaHandlers: Map<number, KafkaHandler>;
  /** The native listener's advertised address (its port is known once the listener opened, after the plugins started). */
  advertised(): { host: string; port: number };
  log(line: string): void;
}

export interface BrokerPlugin {
  readonly name: string;
  /** Runs after recovery, before the listeners open. Return a handle to be closed at stop (before the engine closes). */
  start(ctx: BrokerContext): Promise<{ close(): Promise<void> | void } | void> | { close(): Promise<void> | void } | void;
}

export interface BrokerOptions {
  plugins?: readonly BrokerPlugin[];
  log?: (line: string) => void;
  /** A partition pool to use instead of starting worker threads (in-process tests). */
  pool?: PartitionPool<LogConfig>;
}

export class Broker {
  readonly config: BrokerConfig;
  readonly engine: Engine;
  readonly dispatcher: Dispatcher;
  readonly metrics: MetricsRegistry;
  readonly #server: NativeServer;
  /** null when the Kafka listener is off (kafkaPort -1). */
  readonly #kafka: KafkaServer | null;
  readonly #http: HttpListener;
  readonly #pluginHandles: { name: string; close(): Promise<void> | void }[];
  readonly #log: (line: string) => void;
  readonly #startedAtMs = Date.now();
  readonly #governor: MemoryGovernor;
  #stopping: Promise<void> | undefined;

  private constructor(parts: {
    config: BrokerConfig;
    engine: Engine;
    dispatcher: Dispatcher;
    metrics: MetricsRegistry;
    server: NativeServer;
    kafka: KafkaServer | null;
    http: HttpListener;
    pluginHandles: { name: string; close(): Promise<void> | void }[];
    log: (line: string) => void;
    governor: MemoryGovernor;
  }) {
    this.#governor = parts.governor;
    this.config = parts.config;
    this.engine = parts.engine;
    this.dispatcher = parts.dispatcher;
    this.metrics = parts.metrics;
    this.#server = parts.server;
    this.#kafka = parts.kafka;
    this.#http = parts.http;
    this.#pluginHandles = parts.pluginHandles;
    this.#log = parts.log;
  }

  static async start(config: BrokerConfig, options: BrokerOptions = {}): Promise<Broker> {
    const startedAtMs = Date.now();
    const log = options.log ?? ((line: string) => console.error(line));
    const engine = await Engine.open({ config, log, pool: options.pool });
    const dispatcher = new Dispatcher();
    const metrics = new MetricsRegistry();
    let server: NativeServer | null = null;
    registerCoreHandlers(dispatcher, {
      engine,
      advertised: () => ({ host: config.host, port: server?.port ?? config.port }),
    });
    // Replication roles by hand (tests with broker processes); in a cluster etcd decides them.
    if (config.replicaRoleApi) registerReplicaRoleApi(dispatcher, engine);
    const governor = new MemoryGovernor({
      softLimitBytes: config.memorySoftLimitBytes,
      rssBytes: () => process.memoryUsage.rss(),
      collect: collectFully,
    });
    let kafka: KafkaServer | null = null;
    registerBrokerMetrics(metrics, { engine, server: () => server, kafka: () => kafka, governor });
    const pluginHandles: { name: string; close(): Promise<void> | void }[] = [];
    // One bound on open connections for the whole broker, whichever listener they come to.
    const connections = new ConnectionBudget(config.connectionsMax);
    const kafkaHandlers = new Map<number, KafkaHandler>();
    let http: HttpListener | null = null;
    try {
      const ctx: BrokerContext = { config, engine, dispatcher, metrics, kafkaHandlers, log, advertised: () => ({ host: config.host, port: server?.port ?? config.port }) };
      for (const plugin of options.plugins ?? []) {
        const handle = await plugin.start(ctx);
        if (handle) pluginHandles.push({ name: plugin.name, close: () => handle.close() });
      }
      server = new NativeServer({
        engine,
        dispatcher,
        host: config.host,
        port: config.port,
        connections,
        requestTimeoutMs: config.requestTimeoutMs,
        outputBytesMax: config.outputBytesMax,
        log,
      });
      if (config.kafkaPort >= 0) {
        kafka = new KafkaServer({
          engine,
          config,
          host: config.host,
          port: config.kafkaPort,
          connections,
          requestTimeoutMs: config.requestTimeoutMs,
          outputBytesMax: config.outputBytesMax,
          handlers: kafkaHandlers,
          log,
        });
      }
      const srv = server;
      // The web console (engine/http/) answers its own paths first; closed with the plugins, before the engine.
      const consoleHttp = config.httpConsole
        ? new ConsoleHttp({
            engine,
            dispatcher,
            brokerInfo: () => ({
              nodeId: engine.cluster?.brokerId ?? NODE_ID,
              host: config.host,
              port: srv.port,
              httpPort: http?.port ?? config.httpPort,
              version: BROKER_VERSION,
              workers: engine.pool.workerCount,
              connections: srv.connections.size,
              startedAtMs,
            }),
          })
        : null;
      if (consoleHttp !== null) pluginHandles.push({ name: "console", close: () => consoleHttp.close() });
      const kfk = kafka;
      http = serveHttp({
        host: config.host,
        port: config.httpPort,
        fetch: (req) => consoleHttp?.route(req) ?? httpRoute(req, { engine, metrics, server: srv, kafka: kfk }),
      });
      consoleHttp?.start();
    } catch (e) {
      server?.close();
      kafka?.close();
      if (http !== null) await http.stop().catch(() => {});
      for (const h of pluginHandles.reverse()) await Promise.resolve(h.close()).catch(() => {});
      await engine.close().catch(() => {});
      throw e;
    }
    governor.start();
    return new Broker({ config, engine, dispatcher, metrics, server, kafka, http, pluginHandles, log, governor });
  }

  get port(): number {
    return this.#server.port;
  }

  /** The Kafka listener's port; null when it is off. */
  get kafkaPort(): number | null {
    return this.#kafka?.port ?? null;
  }

  get httpPort(): number {
    return this.#http.port;
  }

  get host(): string {
    return this.config.host;
  }

  get uptimeMs(): number {
    return Date.now() - this.#startedAtMs;
  }

  /** Graceful stop (see the header). Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#governor.stop();
      await Promise.all([this.#server.drain(this.config.shutdownTimeoutMs), this.#kafka?.drain(this.config.shutdownTimeoutMs)]);
      for (const h of [...this.#pluginHandles].reverse()) {
        try {
          await h.close();
        } catch (e) {
          this.#log(`sluice: plugin ${h.name} failed to close: ${(e as Error)?.message ?? e}`);
        }
      }
      await this.engine.close();
      await this.#http.stop();
    })();
    return this.#stopping;
  }
}

function httpRoute(
  req: Request,
  parts: { engine: Engine; metrics: MetricsRegistry; server: NativeServer; kafka: KafkaServer | null },
): Response {
  const url = new URL(req.url);
  if (req.method !== "GET" && req.method !== "HEAD") return new Response("method not allowed\n", { status: 405 });
  if (url.pathname === "/healthz") {
    const { engine, server } = parts;
    let partitions = 0;
    let offline = 0;
    for (const p of engine.partitionStates()) {
      partitions++;
      if (!p.state.online) offline++;
    }
    const status = {
      status: "ok",
      topics: engine.listTopics().length,
      partitions,
      partitionsOffline: offline,
      workers: engine.pool.workerCount,
      connections: server.connections.size + (parts.kafka?.connections.size ?? 0),
      waitingFetches: engine.waitingFetches,
      shuttingDown: server.shuttingDown,
    };
    return new Response(JSON.stringify(status) + "\n", { status: 200, headers: { "content-type": "application/json" } });
  }
  if (url.pathname === "/metrics") {
    return new Response(parts.metrics.render(), { status: 200, headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
  }
  return new Response("not found\n", { status: 404 });
}
