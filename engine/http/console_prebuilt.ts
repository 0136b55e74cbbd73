// The console's files built ahead of time, or null. From the source tree it is
// null: the broker bundles console/ on the first request for the page
// (console_assets.ts), so nothing built is tracked and `npm start` needs no
// build step. The single-file binary has no console/ beside it:
// scripts/build_binary.ts bundles the console when it builds the binary and
// compiles the binary with this module's text replaced by one that holds the
// files (console_bundle.ts, prebuiltConsoleModule).

import type { ConsoleFiles } from "./console_bundle.ts";

export const PREBUILT_CONSOLE: ConsoleFiles | null = null;
