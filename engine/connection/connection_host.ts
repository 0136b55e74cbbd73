// What a connection needs from the server that accepted it (an interface, so
// connection code does not import a server module and its listener). Both
// front ends (engine/native, engine/kafka) implement it through
// ConnectionServer.

import type { TimeoutLists } from "../timeout_lists.ts";
import type { Engine } from "../engine.ts";
import type { ClientConnection } from "./client_connection.ts";
import type { ScratchPool } from "./scratch_pool.ts";
import type { ServerStats } from "./server_stats.ts";

export interface ConnectionHost {
  readonly engine: Engine;
  readonly stats: ServerStats;
  /** Deadlines of acks=all produce requests (their timeout); one timer for all. */
  readonly produceDeadlines: TimeoutLists;
  readonly scratch: ScratchPool;
  /** True once a graceful shutdown began: read nothing more, answer what is in flight. */
  readonly shuttingDown: boolean;
  log(line: string): void;
  connectionClosed(conn: ClientConnection): void;
}
