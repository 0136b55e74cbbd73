// The native protocol server: the shared ConnectionServer
// (engine/connection/connection_server.ts: the connection limit, output
// bounds, request-timeout sweep, graceful drain) with native connections and
// the native dispatcher.

import { apiName } from "../../protocol/api_keys.ts";
import type { ServerSocket } from "../../runtime/listener_bun.ts";
import type { ClientConnection } from "../connection/client_connection.ts";
import { ConnectionServer, type ConnectionServerOptions } from "../connection/connection_server.ts";
import type { OutputQueue } from "../connection/output_queue.ts";
import { Connection } from "./connection.ts";
import type { Dispatcher } from "./dispatch.ts";
import type { NativeServerHost } from "./server_host.ts";

export interface NativeServerOptions extends ConnectionServerOptions {
  dispatcher: Dispatcher;
}

export class NativeServer extends ConnectionServer<Connection> implements NativeServerHost {
  readonly dispatcher: Dispatcher;

  constructor(options: NativeServerOptions) {
    const dispatcher = options.dispatcher;
    super(options, (apiKey) => (dispatcher.serves(apiKey, 0) ? apiName(apiKey) : null));
    this.dispatcher = dispatcher;
  }

  protected createConnection(socket: ServerSocket, makeOutput: (conn: ClientConnection) => OutputQueue): Connection {
    return new Connection(socket, this, makeOutput);
  }
}
