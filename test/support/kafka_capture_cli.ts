// Records the request frames a real Kafka client sends and writes them as a
// fixture file of protocol/kafka/testing/fixtures/ (hex, first frame of each
// api/version per scenario). Run by hand when a client or a codec changes:
//
//   bun test/support/kafka_capture_cli.ts kcat|kafkajs|platformatic
//
// The client talks to the capture server (kafka_capture.ts), whose answers
// come from our encoders: a client that completes its scenario has also
// accepted every response it got.

import { writeFileSync } from "node:fs";
import { KAFKA_APIS, KafkaApiKey } from "../../protocol/kafka/versions.ts";
import { type CapturedFrame, startKafkaCapture } from "./kafka_capture.ts";
import { CLIENTS, SCENARIO_TIMEOUT_MS, withTimeout } from "./kafka_client_scenarios.ts";

const DISTINCT_FRAMES_MAX = 3;

function apiName(key: number): string {
  return KAFKA_APIS.find((a) => a.key === key)?.name ?? `Api${key}`;
}

async function main(): Promise<void> {
  const which = process.argv[2] ?? "";
  const client = CLIENTS[which];
  if (client === undefined) {
    console.error(`usage: bun test/support/kafka_capture_cli.ts ${Object.keys(CLIENTS).join("|")}`);
    process.exit(2);
  }
  const kept: { scenario: string; f: CapturedFrame }[] = [];
  const errors: string[] = [];
  const bodies = new Set<string>();
  for (const s of client.scenarios) {
    const cap = await startKafkaCapture();
    try {
      await withTimeout(s.run(cap.port), SCENARIO_TIMEOUT_MS, s.name);
    } catch (e) {
      errors.push(`${s.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
    await cap.close();
    // One frame per api/version and scenario (an api/version kept by an earlier scenario is not kept
    // again); Metadata and Produce keep each distinct frame, up to DISTINCT_FRAMES_MAX, since a
    // client's first and later ones differ (brokers only, then all topics; plain, then idempotent).
    const kinds = new Map<string, number>();
    for (const f of cap.frames) {
      if (f.error !== null) errors.push(`${s.name}: ${apiName(f.header.apiKey)} v${f.header.apiVersion}: ${f.error}`);
      const key = `${f.header.apiKey}/${f.header.apiVersion}`;
      const distinct = f.header.apiKey === KafkaApiKey.Metadata || f.header.apiKey === KafkaApiKey.Produce;
      const body = Buffer.from(f.frame.subarray(8)).toString("hex");
      const count = kinds.get(key) ?? 0;
      const earlier = kept.some((k) => k.scenario !== s.name && `${k.f.header.apiKey}/${k.f.header.apiVersion}` === key);
      if (distinct ? count >= DISTINCT_FRAMES_MAX || bodies.has(body) : count > 0 || earlier) continue;
      kinds.set(key, count + 1);
      bodies.add(body);
      kept.push({ scenario: s.name, f });
    }
  }
  const constName = `${which.toUpperCase()}_REQUESTS`;
  const lines = [
    `// Request frames ${client.label} sent, one per api/version and scenario (size`,
    "// prefix removed: request header + body). Recorded by",
    `// \`bun test/support/kafka_capture_cli.ts ${which}\` against the capture server;`,
    "// do not edit by hand.",
    "",
    'import type { CapturedRequest } from "./captured_request.ts";',
    "",
    `export const ${constName}: readonly CapturedRequest[] = [`,
  ];
  for (const { scenario, f } of kept) {
    const h = f.header;
    lines.push(
      `  { scenario: "${scenario}", api: "${apiName(h.apiKey)}", apiKey: ${h.apiKey}, apiVersion: ${h.apiVersion}, hex: "${Buffer.from(f.frame).toString("hex")}" },`,
    );
  }
  lines.push("];", "");
  const path = new URL(`../../protocol/kafka/testing/fixtures/${which}.ts`, import.meta.url).pathname;
  writeFileSync(path, lines.join("\n"));
  console.log(`wrote ${kept.length} frames to ${path}`);
  for (const { scenario, f } of kept) console.log(`  ${scenario}: ${apiName(f.header.apiKey)} v${f.header.apiVersion} (${f.frame.length} bytes)`);
  if (errors.length > 0) {
    console.log("errors:");
    for (const e of errors) console.log(`  ${e}`);
    process.exitCode = 1;
  }
}

await main();
