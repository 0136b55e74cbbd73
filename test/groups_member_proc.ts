// A GroupConsumer in a process of its own, for the tests that kill or stop
// members (test/groups_kill.test.ts, test/groups_session.test.ts).
//
//   bun test/groups_member_proc.ts <port> <group> <topic> [sessionTimeoutMs] [autoCommitIntervalMs] [id]
//
// Commits only what it processed (auto-commit). Writes one line per event to
// stdout with a synchronous write, so a line is out before the next step and
// nothing it reports can be lost in a buffer when it is killed:
//   A <generation> <p,p,...>    assigned
//   R <lost 0|1> <p,p,...>      revoked
//   M <partition> <offset>      processed
//   C <partition> <offset>      commit acknowledged by the broker
// SIGTERM: close cleanly (commit, leave) and exit 0.

import fs from "node:fs";
import { GroupConsumer } from "../client/group_consumer.ts";

const [port, groupId, topic, sessionText, commitText, id] = process.argv.slice(2);
const out = (line: string): void => void fs.writeSync(1, `${line}\n`);
const list = (tps: Array<{ partitions: number[] }>) => tps.flatMap((tp) => tp.partitions).sort((a, b) => a - b).join(",");

const consumer = new GroupConsumer({
  brokers: [`127.0.0.1:${port}`],
  groupId,
  clientId: id ?? `proc-${process.pid}`,
  sessionTimeoutMs: Number(sessionText ?? 1_500),
  rebalanceTimeoutMs: 5_000,
  autoCommitIntervalMs: Number(commitText ?? 100),
  pollWaitMs: 100,
  onAssigned: (tps) => out(`A ${consumer.generationId} ${list(tps)}`),
  onRevoked: (tps, info) => out(`R ${info.lost ? 1 : 0} ${list(tps)}`),
  onCommitted: (offsets) => {
    for (const o of offsets) out(`C ${o.partition} ${o.offset}`);
  },
});
consumer.subscribe([topic]);
process.on("SIGTERM", () => {
  consumer.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
await consumer.run({
  eachMessage: async (m) => {
    out(`M ${m.partition} ${m.offset}`);
    // A little work per message, so a kill lands while messages are in hand.
    if (m.offset % 10 === 0) await new Promise((r) => setTimeout(r, 1));
  },
});
