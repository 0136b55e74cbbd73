// Long versions of test/faults/corruption.test.ts (40 flips per case) and of the
// EIO part of test/faults/disk_errors.test.ts (the failing fdatasync swept from
// the 1st to the 40th). Loaded only under `bun run test:long` (SLUICE_LONG=1).

import { test } from "bun:test";

if (process.env.SLUICE_LONG) {
  process.env.SLUICE_CORRUPTION_FLIPS ??= "40";
  process.env.SLUICE_EIO_AT ??= Array.from({ length: 40 }, (_, i) => i + 1).join(",");
  await import("../faults/corruption.test.ts");
  await import("../faults/disk_errors.test.ts");
} else {
  test.skip("long: corruption (40 flips per case) and fdatasync EIO at #1..#40 (set SLUICE_LONG=1)", () => {});
}
