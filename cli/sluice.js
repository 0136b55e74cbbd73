#!/usr/bin/env node
// `sluice` as installed by npm (package.json "bin"). The broker and CLI are
// TypeScript run by Bun; this shim finds the Bun binary that `npm ci` installed
// (the `bun` npm package) and hands it cli/main.ts with the same arguments.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
let bunBinary = process.versions.bun ? process.execPath : undefined;
if (bunBinary === undefined) {
  try {
    const bunPackage = path.dirname(require.resolve("bun/package.json"));
    bunBinary = path.join(bunPackage, "bin", process.platform === "win32" ? "bun.exe" : "bun.exe");
  } catch {
    bunBinary = "bun";
  }
}
const result = spawnSync(bunBinary, [path.join(here, "main.ts"), ...process.argv.slice(2)], { stdio: "inherit" });
if (result.error) {
  console.error(`sluice: could not start bun (${result.error.message}); run \`npm ci\` first`);
  process.exit(1);
}
process.exit(result.status ?? 1);
