// The import rule of ARCHITECTURE.md, checked on the sources: engine/ reaches
// workers/ only through workers/mod.ts (the workers' public face) and cluster/
// only through cluster/mod.ts, and the router's code imports nothing of
// client/, cli/ or bench/; cluster/ imports nothing of ours but protocol/.
// (Tests may also use test/support.)

import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";

const ENGINE = import.meta.dir;
const ROOT = path.dirname(ENGINE);
const CLUSTER = path.join(ROOT, "cluster");

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourcesUnder(full));
    else if (entry.name.endsWith(".ts")) out.push(full);
  }
  return out;
}

/** Relative specifiers of every import / export-from / dynamic import in `source`. */
function relativeImports(source: string): string[] {
  const specs: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;
  for (let m = pattern.exec(source); m !== null; m = pattern.exec(source)) specs.push(m[1]);
  return specs;
}

describe("engine import rule", () => {
  test("the scanner sees imports of every form", () => {
    const src = `import { a } from "../workers/log/mod.ts";\nexport * from "./x.ts";\nconst m = await import("../cli/main.ts");\nimport "./side.ts";`;
    expect(relativeImports(src)).toEqual(["../workers/log/mod.ts", "./x.ts", "../cli/main.ts", "./side.ts"]);
  });

  test("engine/ imports workers/ only through workers/mod.ts, and nothing of client/, cli/ or bench/", () => {
    const mod = path.join(ROOT, "workers", "mod.ts");
    const problems: string[] = [];
    const files = sourcesUnder(ENGINE);
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      if (file === import.meta.path) continue; // its own fixture strings above
      for (const spec of relativeImports(fs.readFileSync(file, "utf8"))) {
        const target = path.resolve(path.dirname(file), spec);
        const top = path.relative(ROOT, target).split(path.sep)[0];
        const where = `${path.relative(ROOT, file)} imports ${spec}`;
        if (top === "workers" && target !== mod) problems.push(`${where} (use workers/mod.ts)`);
        if (top === "cluster" && target !== path.join(CLUSTER, "mod.ts")) problems.push(`${where} (use cluster/mod.ts)`);
        if (top === "client" || top === "cli" || top === "bench") problems.push(where);
      }
    }
    expect(problems).toEqual([]);
  });

  test("cluster/ imports nothing of ours but protocol/ (and test/support in its tests)", () => {
    const problems: string[] = [];
    const files = sourcesUnder(CLUSTER);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      for (const spec of relativeImports(fs.readFileSync(file, "utf8"))) {
        const target = path.resolve(path.dirname(file), spec);
        const rel = path.relative(ROOT, target).split(path.sep);
        const top = rel[0];
        const testSupport = file.endsWith(".test.ts") && top === "test" && rel[1] === "support";
        if (top !== "cluster" && top !== "protocol" && !testSupport) problems.push(`${path.relative(ROOT, file)} imports ${spec}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
