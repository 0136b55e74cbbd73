// What a Kafka connection and its api handlers need from the Kafka server (an
// interface, so handlers do not import the server module and its listener).

import type { BrokerConfig } from "../broker_config.ts";
import type { ConnectionHost } from "../connection/connection_host.ts";
import type { KafkaHandler } from "./kafka_request.ts";

export interface KafkaServerHost extends ConnectionHost {
  readonly config: BrokerConfig;
  /** api key → its handler; a key without one is not spoken (the connection closes, as Kafka's does). */
  readonly handlers: ReadonlyMap<number, KafkaHandler>;
  /** Where Kafka clients are told to connect (Metadata, FindCoordinator). */
  advertised(): { host: string; port: number };
}
