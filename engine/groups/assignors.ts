// The assignors the coordinator offers, by the name members ask for.

import type { Assignor } from "./assignor.ts";
import { rangeAssignor } from "./range_assignor.ts";
import { roundRobinAssignor } from "./round_robin_assignor.ts";
import { stickyAssignor } from "./sticky_assignor.ts";

export const ASSIGNORS: ReadonlyMap<string, Assignor> = new Map(
  [stickyAssignor, rangeAssignor, roundRobinAssignor].map((a) => [a.name, a]),
);

/** What a client offers when it names none: sticky first (fewest moves), then the classic two. */
export const DEFAULT_ASSIGNOR_PREFERENCE: readonly string[] = ["sticky", "range", "roundrobin"];
