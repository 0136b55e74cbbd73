// Long versions of test/faults/connections.test.ts (4× the hostile clients) and
// test/faults/waiting_fetches.test.ts (100,000 parked fetches, the default
// waitingFetchesMax). Loaded only under `bun run test:long` (SLUICE_LONG=1).

import { test } from "bun:test";

if (process.env.SLUICE_LONG) {
  process.env.SLUICE_CONNECTION_SCALE ??= "4";
  process.env.SLUICE_WAITING_FETCHES ??= "100000";
  await import("../faults/connections.test.ts");
  await import("../faults/waiting_fetches.test.ts");
} else {
  test.skip("long: hostile connections ×4 and 100,000 parked fetches (set SLUICE_LONG=1)", () => {});
}
