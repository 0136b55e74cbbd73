// kill -9 of a real broker at random moments while producers pipeline acks=all
// requests and consumers long-poll, cycle after cycle on one data directory.
//
// Each cycle: start the broker on the data dir (the time to its ready line is
// the recovery time: every partition recovered, listeners open), check that
// every offset below the high watermark is readable (all offsets new since the
// last check, plus random samples of older ones), run producers and consumers
// for a random time, SIGKILL. Consumers carry their positions across restarts:
// what they read was below the high watermark, which is durable, so it must
// still be there. At the end one more restart drains every partition from 0
// and the whole history goes to the queue checker.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ErrorCode } from "../../../protocol/errors.ts";
import { decodeFetchResponse } from "../../../protocol/messages/fetch.ts";
import { History, partitionKey } from "../../checker/history.ts";
import { checkQueueHistory, type QueueCheckReport, summarizeQueueReport } from "../../checker/queue_checker.ts";
import { type BrokerProcess, startBroker } from "../../support/broker.ts";
import { RawClient, fetchBody } from "../../support/raw_client.ts";
import { Rng } from "../support/rng.ts";
import { PipelinedProducer, PollingConsumer, drainPartition, quantile, recordsFrom } from "../support/workload.ts";

export interface Kill9Options {
  cycles: number;
  seed: number;
  /** Time the workload runs before the kill, ms: uniformly in [min, max]. */
  runMsMin: number;
  runMsMax: number;
  producers: number;
  partitions: number;
  inflightMax: number;
  /** Random older offsets re-read after each restart, per partition. */
  samplesPerCycle: number;
  /** Extra broker flags. */
  brokerArgs?: string[];
  log?: (line: string) => void;
}

export interface Kill9Figures {
  cycles: number;
  sent: number;
  acked: number;
  lost: number;
  unreadAcked: number;
  inconsistent: number;
  duplicated: number;
  unexpected: number;
  reordered: number;
  pollSkips: number;
  nonMonotonicPolls: number;
  unreadBelowHighWatermark: number;
  /** Fetch errors OFFSET_OUT_OF_RANGE at a position a consumer had reached before a crash. */
  consumerOutOfRange: number;
  /** Offsets re-read after restarts to check readability (new ones plus samples). */
  offsetsVerified: number;
  finalHighWatermarks: number[];
  recoveryMs: { p50: number; p99: number; max: number };
  ackLatencyMs: { p50: number; p99: number };
  brokerComplaints: string[];
  report: QueueCheckReport;
  summary: string;
  elapsedMs: number;
}

const TOPIC = "crash";

export async function runKill9(opts: Kill9Options): Promise<Kill9Figures> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const rng = new Rng(opts.seed);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
  const history = new History();
  const recoveryMs: number[] = [];
  const latencies: number[] = [];
  const brokerComplaints: string[] = [];
  const positions = Array.from({ length: opts.partitions }, () => 0);
  const verifiedUpTo = Array.from({ length: opts.partitions }, () => 0);
  let consumerOutOfRange = 0;
  let offsetsVerified = 0;
  let broker: BrokerProcess | null = null;
  const args = ["--workers", "2", ...(opts.brokerArgs ?? [])];

  const start = async (): Promise<BrokerProcess> => {
    const t0 = performance.now();
    const b = await startBroker({ dataDir, args });
    recoveryMs.push(performance.now() - t0);
    return b;
  };
  const complaints = (b: BrokerProcess): void => {
    for (const line of b.output().split("\n")) {
      if (/uncaught|unhandled|panic|assert/i.test(line)) brokerComplaints.push(line.slice(0, 300));
    }
  };

  try {
    broker = await start();
    const admin = await RawClient.connect(broker.port);
    const created = (await admin.control(19, { topics: [{ name: TOPIC, partitions: opts.partitions }] })) as {
      topics: { errorCode: number }[];
    };
    if (created.topics[0].errorCode !== 0) throw new Error(`create topic: ${JSON.stringify(created)}`);
    admin.close();

    for (let cycle = 0; cycle < opts.cycles; cycle++) {
      if (cycle > 0) broker = await start();
      const b = broker!;
      // Readability after the restart.
      const verifier = await RawClient.connect(b.port);
      for (let p = 0; p < opts.partitions; p++) {
        const d = await drainPartition({ client: verifier, topic: TOPIC, partition: p, name: `verify-${cycle}`, history, from: verifiedUpTo[p] });
        offsetsVerified += d.records;
        for (let s = 0; s < opts.samplesPerCycle && verifiedUpTo[p] > 0; s++) {
          const at = rng.below(verifiedUpTo[p]);
          const res = await verifier.request(1, fetchBody({ topic: TOPIC, maxBytes: 1, partitions: [{ index: p, offset: at, maxBytes: 1 }] }));
          const r = decodeFetchResponse(res.body).topics[0].partitions[0];
          const name = `sample-${cycle}-${p}-${s}`;
          history.seek(name, partitionKey(TOPIC, p), at);
          if (r.errorCode !== 0) throw new Error(`sample fetch at ${at}: error ${r.errorCode}`);
          const got = recordsFrom(r.records, at);
          if (got.length === 0) throw new Error(`partition ${p}: offset ${at} below the high watermark is not readable`);
          history.poll(name, partitionKey(TOPIC, p), got.slice(0, 1));
          offsetsVerified++;
        }
        verifiedUpTo[p] = d.highWatermark;
      }
      verifier.close();

      const producers = Array.from(
        { length: opts.producers },
        (_, i) =>
          new PipelinedProducer({
            port: b.port,
            topic: TOPIC,
            partitions: Array.from({ length: opts.partitions }, (_, p) => p),
            name: `c${cycle}p${i}`,
            history,
            rng,
            inflightMax: opts.inflightMax,
            recordsPerBatchMax: 10,
          }),
      );
      const consumers = Array.from(
        { length: opts.partitions },
        (_, p) => new PollingConsumer({ port: b.port, topic: TOPIC, partition: p, name: `consumer-${p}`, history, position: positions[p] }),
      );
      await Promise.all([...producers.map((p) => p.start()), ...consumers.map((c) => c.start())]);
      await Bun.sleep(rng.between(opts.runMsMin, opts.runMsMax));
      complaints(b);
      await b.kill9();
      await Promise.all([...producers.map((p) => p.stop()), ...consumers.map((c) => c.stop())]);
      for (const p of producers) latencies.push(...p.stats.latenciesMs);
      consumers.forEach((c, p) => {
        positions[p] = c.position;
        consumerOutOfRange += c.errors.get(ErrorCode.OFFSET_OUT_OF_RANGE) ?? 0;
      });
      log(
        `cycle ${cycle}: recovery ${recoveryMs.at(-1)!.toFixed(0)} ms, acked ${producers.reduce((n, p) => n + p.stats.acked, 0)}, consumed to ${positions.join("/")}`,
      );
    }

    // Final restart: drain every partition from 0.
    broker = await start();
    const c = await RawClient.connect(broker.port);
    const finalHighWatermarks: number[] = [];
    for (let p = 0; p < opts.partitions; p++) {
      finalHighWatermarks.push((await drainPartition({ client: c, topic: TOPIC, partition: p, name: "final", history, from: 0 })).highWatermark);
    }
    c.close();
    complaints(broker);
    await broker.stop();
    broker = null;

    const report = checkQueueHistory(history.events, { drained: true });
    return {
      cycles: opts.cycles,
      sent: report.counts.sent,
      acked: report.counts.acked,
      lost: report.counts.lost,
      unreadAcked: report.counts.unreadAcked,
      inconsistent: report.inconsistent.length,
      duplicated: report.duplicated.length,
      unexpected: report.unexpected.length,
      reordered: report.reordered.length,
      pollSkips: report.pollSkips.length,
      nonMonotonicPolls: report.nonMonotonicPolls.length,
      unreadBelowHighWatermark: report.unreadBelowHighWatermark.reduce((n, u) => n + u.missing, 0),
      consumerOutOfRange,
      offsetsVerified,
      finalHighWatermarks,
      recoveryMs: { p50: round(quantile(recoveryMs, 0.5)), p99: round(quantile(recoveryMs, 0.99)), max: round(Math.max(...recoveryMs)) },
      ackLatencyMs: { p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)) },
      brokerComplaints,
      report,
      summary: summarizeQueueReport(report),
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    if (broker !== null) await broker.kill9();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
