// What a connection needs from its server (an interface, so connection code
// does not import the server module and its listener).

import type { TimeoutLists } from "../timeout_lists.ts";
import type { Engine } from "../engine.ts";
import type { Connection } from "./connection.ts";
import type { Dispatcher } from "./dispatch.ts";
import type { ScratchPool } from "./scratch_pool.ts";
import type { ServerStats } from "./server_stats.ts";

export interface NativeServerHost {
  readonly engine: Engine;
  readonly dispatcher: Dispatcher;
  readonly stats: ServerStats;
  /** Deadlines of acks=all produce requests (their TimeoutMs); one timer for all. */
  readonly produceDeadlines: TimeoutLists;
  readonly scratch: ScratchPool;
  /** True once a graceful shutdown began: read nothing more, answer what is in flight. */
  readonly shuttingDown: boolean;
  log(line: string): void;
  connectionClosed(conn: Connection): void;
}
