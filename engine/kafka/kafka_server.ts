// The Kafka protocol server: the shared ConnectionServer
// (engine/connection/connection_server.ts: the broker's one connection
// limit, output bounds, request-timeout sweep, graceful drain) with Kafka
// connections and the api handlers of handlers.ts.

import type { ServerSocket } from "../../runtime/listener_bun.ts";
import { kafkaApi } from "../../protocol/kafka/versions.ts";
import type { BrokerConfig } from "../broker_config.ts";
import type { ClientConnection } from "../connection/client_connection.ts";
import { ConnectionServer, type ConnectionServerOptions } from "../connection/connection_server.ts";
import type { OutputQueue } from "../connection/output_queue.ts";
import { kafkaHandlers } from "./handlers.ts";
import { KafkaConnection } from "./kafka_connection.ts";
import type { KafkaServerHost } from "./kafka_host.ts";
import type { KafkaHandler } from "./kafka_request.ts";

export interface KafkaServerOptions extends ConnectionServerOptions {
  config: BrokerConfig;
  /** Extra apis (the group coordinator's), added to the core ones. */
  handlers?: ReadonlyMap<number, KafkaHandler>;
}

export class KafkaServer extends ConnectionServer<KafkaConnection> implements KafkaServerHost {
  readonly config: BrokerConfig;
  readonly handlers: ReadonlyMap<number, KafkaHandler>;

  constructor(options: KafkaServerOptions) {
    const handlers = kafkaHandlers();
    for (const [key, h] of options.handlers ?? []) handlers.set(key, h);
    super(options, (apiKey) => (handlers.has(apiKey) ? (kafkaApi(apiKey)?.name ?? null) : null));
    this.config = options.config;
    this.handlers = handlers;
  }

  advertised(): { host: string; port: number } {
    const bound = this.config.host;
    const host = this.config.kafkaAdvertisedHost ?? (bound === "0.0.0.0" || bound === "::" ? "127.0.0.1" : bound);
    return { host, port: this.config.kafkaAdvertisedPort ?? this.port };
  }

  protected createConnection(socket: ServerSocket, makeOutput: (conn: ClientConnection) => OutputQueue): KafkaConnection {
    return new KafkaConnection(socket, this, makeOutput);
  }
}
