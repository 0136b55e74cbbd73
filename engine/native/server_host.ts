// What a native connection needs from its server: the shared host
// (engine/connection/connection_host.ts) plus the native dispatcher.

import type { ConnectionHost } from "../connection/connection_host.ts";
import type { Dispatcher } from "./dispatch.ts";

export interface NativeServerHost extends ConnectionHost {
  readonly dispatcher: Dispatcher;
}
