// Small mode of bench/protocol_bench.ts: one short round, so the bench cannot
// rot; it checks that both protocols moved every message they acknowledged
// through produce and back through consume, that the kafkajs and
// @platformatic/kafka producers had batches acknowledged through the Kafka
// listener, and that bad command-line values are refused (the figures are not
// judged here).

import { expect, test } from "bun:test";
import { parseProtocolBenchArgs, runProtocolBench } from "./protocol_bench.ts";

test("protocol bench, small mode: native and Kafka produce and consume back what they acknowledged; the Node libraries produce", async () => {
  const rows = await runProtocolBench(
    { rounds: 1, seconds: 0.3, partitions: 2, batch: 10, size: 50, inFlight: 4, libraries: ["kafkajs", "platformatic"] },
    () => {},
  );
  expect(rows.map((r) => r.protocol)).toEqual(["native", "kafka", "kafkajs", "platformatic"]);
  for (const r of rows) {
    expect(r.messages).toBeGreaterThan(0);
    expect(r.messages % 10).toBe(0); // whole batches only
    expect(r.produceMsgsPerSec).toBeGreaterThan(0);
    expect(r.produceCpu.brokerUs).toBeGreaterThanOrEqual(r.produceCpu.routerUs);
  }
  for (const r of rows.slice(0, 2)) expect(r.consumeMsgsPerSec).toBeGreaterThan(0);
  for (const r of rows.slice(2)) expect(r.consumeMsgsPerSec).toBeNull();
}, 90_000);

test("protocol bench: the command line's values are checked at the edge", () => {
  expect(parseProtocolBenchArgs([]).libraries).toEqual(["kafkajs", "platformatic"]);
  expect(parseProtocolBenchArgs(["--libraries", "", "--protocols", "kafka"])).toMatchObject({ libraries: [], protocols: ["kafka"] });
  expect(() => parseProtocolBenchArgs(["--rounds", "0"])).toThrow("--rounds 0");
  expect(() => parseProtocolBenchArgs(["--seconds", "x"])).toThrow("--seconds x");
  expect(() => parseProtocolBenchArgs(["--libraries", "kafkajs,franz"])).toThrow("franz is not one of");
  expect(() => parseProtocolBenchArgs(["--protocols", "amqp"])).toThrow("amqp is not one of");
});
