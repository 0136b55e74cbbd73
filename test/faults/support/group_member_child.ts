// A consumer-group member in its own process, for the group fault test, which
// kills it with SIGKILL at random moments. Written over raw frames so that what
// it reports is exactly what went over the wire: it joins, syncs, reads its
// partitions from the group's committed offsets, commits the offsets after the
// records it consumed every COMMIT_INTERVAL_MS, heartbeats, commits before it
// rejoins on a rebalance, and never commits after it was fenced.
// stdout, one line per event (the parent timestamps them):
//   assigned <generation> <p>,<p>,...
//   commit <generation> <partition> <offset>      (after the broker acknowledged it)
// Exits 3 when the broker connection is lost (the parent restarts it).
// Usage: bun test/faults/support/group_member_child.ts <port> <group> <topic>

import { ErrorCode } from "../../../protocol/errors.ts";
import { decodeFetchResponse, writeFetchRequest } from "../../../protocol/messages/fetch.ts";
import { RawClient, encodeBody } from "../../support/raw_client.ts";
import { recordsFrom } from "./workload.ts";

const [portText, groupId, topic] = process.argv.slice(2);
const COMMIT_INTERVAL_MS = 150;
const HEARTBEAT_INTERVAL_MS = 150;
const out = (line: string) => process.stdout.write(`${line}\n`);

type Reply = Record<string, any> & { errorCode?: number };

let client: RawClient;
try {
  client = await RawClient.connect(Number(portText));
} catch {
  process.exit(3);
}
void client.closed.then(() => process.exit(3));

const call = (key: number, body: unknown) => client.control<Reply>(key, body) as Promise<Reply>;

let memberId = "";
for (;;) {
  const join = await call(11, { groupId, memberId, clientId: "fault-test", topics: [topic], sessionTimeoutMs: 1_000, rebalanceTimeoutMs: 3_000, assignors: ["range"] });
  if (join.errorCode !== undefined && join.errorCode !== 0) {
    if (join.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) memberId = "";
    await Bun.sleep(50);
    continue;
  }
  memberId = join.memberId;
  const generationId: number = join.generationId;
  const sync = await call(14, { groupId, generationId, memberId });
  if (sync.errorCode !== undefined && sync.errorCode !== 0) {
    await Bun.sleep(50);
    continue;
  }
  const partitions: number[] = (sync.assignment as { topic: string; partitions: number[] }[]).flatMap((a) => (a.topic === topic ? a.partitions : []));
  out(`assigned ${generationId} ${partitions.join(",")}`);
  const positions = new Map<number, number>();
  if (partitions.length > 0) {
    const f = await call(9, { groupId, topics: [{ name: topic, partitions }] });
    for (const p of f.topics?.[0]?.partitions ?? []) positions.set(p.partition, p.offset >= 0 ? p.offset : 0);
  }
  const committed = new Map(positions);
  const commit = async (): Promise<number> => {
    const changed = partitions.filter((p) => positions.get(p) !== committed.get(p));
    if (changed.length === 0) return 0;
    const r = await call(8, {
      groupId,
      generationId,
      memberId,
      topics: [{ name: topic, partitions: changed.map((p) => ({ partition: p, offset: positions.get(p)! })) }],
    });
    if (r.errorCode !== undefined && r.errorCode !== 0) return r.errorCode;
    for (const pr of r.topics?.[0]?.partitions ?? []) {
      if (pr.errorCode === 0) {
        committed.set(pr.partition, positions.get(pr.partition)!);
        out(`commit ${generationId} ${pr.partition} ${positions.get(pr.partition)}`);
      } else return pr.errorCode;
    }
    return 0;
  };
  let lastCommit = performance.now();
  let lastHeartbeat = performance.now();
  let rejoin = false;
  while (!rejoin) {
    if (partitions.length > 0) {
      const body = encodeBody((w) =>
        writeFetchRequest(w, {
          maxWaitMs: 50,
          minBytes: 1,
          maxBytes: 256 * 1024,
          topics: [{ name: topic, partitions: partitions.map((p) => ({ index: p, fetchOffset: BigInt(positions.get(p)!), partitionMaxBytes: 64 * 1024 })) }],
        }),
      );
      const res = decodeFetchResponse((await client.request(1, body)).body);
      for (const r of res.topics[0]?.partitions ?? []) {
        if (r.errorCode !== 0) continue;
        const got = recordsFrom(r.records, positions.get(r.index)!);
        if (got.length > 0) positions.set(r.index, got[got.length - 1].offset + 1);
      }
    } else {
      await Bun.sleep(50);
    }
    const now = performance.now();
    if (now - lastCommit >= COMMIT_INTERVAL_MS) {
      lastCommit = now;
      const code = await commit();
      if (code === ErrorCode.REBALANCE_IN_PROGRESS || code === ErrorCode.ILLEGAL_GENERATION || code === ErrorCode.UNKNOWN_MEMBER_ID) rejoin = true;
    }
    if (now - lastHeartbeat >= HEARTBEAT_INTERVAL_MS) {
      lastHeartbeat = now;
      const hb = await call(12, { groupId, generationId, memberId });
      const code = hb.errorCode ?? 0;
      if (code === ErrorCode.REBALANCE_IN_PROGRESS) {
        await commit(); // eager: give up the partitions with their offsets committed
        rejoin = true;
      } else if (code === ErrorCode.ILLEGAL_GENERATION || code === ErrorCode.UNKNOWN_MEMBER_ID) {
        if (code === ErrorCode.UNKNOWN_MEMBER_ID) memberId = "";
        rejoin = true; // fenced: never commit
      }
    }
  }
}
