// The plugins `sluice serve` starts with every broker. A plugin hooks into the
// broker at start (see BrokerPlugin in broker.ts): it may register control
// apis on the dispatcher and metric providers, and is closed before the engine.
// The group coordinator (engine/groups) is added here.

import type { BrokerPlugin } from "./broker.ts";
import { groupsPlugin } from "./groups/mod.ts";

export function defaultPlugins(): BrokerPlugin[] {
  return [groupsPlugin()];
}
