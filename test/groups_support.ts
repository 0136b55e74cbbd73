// Shared by the consumer-group integration tests (test/groups_*.test.ts):
// a background producer that remembers what was acked, polling helpers, a
// delivery log checker, and the describe call.

import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Admin } from "../client/admin.ts";
import { GroupAdmin } from "../client/group_admin.ts";
import { connectGroupRpc } from "../client/group_transport.ts";
import { Producer } from "../client/producer.ts";
import type { GroupDescription } from "../protocol/messages/groups.ts";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUN = path.join(REPO_ROOT, "node_modules", ".bin", "bun");

export async function createTopic(port: number, name: string, partitions: number): Promise<void> {
  const admin = new Admin({ broker: `127.0.0.1:${port}` });
  try {
    await admin.createTopic(name, { partitions });
  } finally {
    await admin.close();
  }
}

export async function addPartitions(port: number, name: string, count: number): Promise<void> {
  const admin = new Admin({ broker: `127.0.0.1:${port}` });
  try {
    await admin.createPartitions(name, count);
  } finally {
    await admin.close();
  }
}

export async function describeGroup(port: number, groupId: string): Promise<GroupDescription> {
  const rpc = await connectGroupRpc({ broker: `127.0.0.1:${port}` });
  try {
    return await new GroupAdmin(rpc).describeGroup(groupId);
  } finally {
    await rpc.close();
  }
}

/**
 * Produces `value = "<seq>"` round-robin over `partitions` (acks=all) at a
 * steady pace until stopped; remembers every acked (partition, offset).
 */
export class BackgroundProducer {
  readonly acked = new Map<number, number[]>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly producer: Producer;
  sent = 0;

  constructor(
    port: number,
    private readonly topic: string,
    private readonly opts: { perTick: number; tickMs: number; partitions: () => number },
  ) {
    this.producer = new Producer({ broker: `127.0.0.1:${port}`, acks: "all", lingerMs: 1 });
  }

  start(): this {
    this.loop = (async () => {
      let seq = 0;
      while (!this.stopped) {
        const n = this.opts.partitions();
        const sends = [];
        for (let i = 0; i < this.opts.perTick; i++, seq++) {
          sends.push(
            this.producer.send(this.topic, { value: String(seq), partition: seq % n }).then((m) => {
              let list = this.acked.get(m.partition);
              if (list === undefined) this.acked.set(m.partition, (list = []));
              list.push(Number(m.offset));
            }),
          );
        }
        await Promise.all(sends);
        this.sent += sends.length;
        await new Promise((r) => setTimeout(r, this.opts.tickMs));
      }
    })();
    return this;
  }

  get total(): number {
    let n = 0;
    for (const l of this.acked.values()) n += l.length;
    return n;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.producer.close();
  }
}

export interface Delivery {
  readonly partition: number;
  readonly offset: number;
  readonly consumer: string;
}

/** What a delivery log says against what the producer acked. */
export function checkDeliveries(acked: Map<number, number[]>, deliveries: readonly Delivery[]) {
  const seen = new Map<string, number>();
  for (const d of deliveries) seen.set(`${d.partition}:${d.offset}`, (seen.get(`${d.partition}:${d.offset}`) ?? 0) + 1);
  const lost: string[] = [];
  for (const [p, offsets] of acked) for (const o of offsets) if (!seen.has(`${p}:${o}`)) lost.push(`${p}:${o}`);
  const duplicates = [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k}×${n}`);
  // Per-partition order: within one consumer's run of a partition, offsets only go up.
  const reordered: string[] = [];
  const last = new Map<string, number>();
  for (const d of deliveries) {
    const k = `${d.consumer}/${d.partition}`;
    const prev = last.get(k);
    if (prev !== undefined && d.offset <= prev && d.offset !== undefined) reordered.push(`${k}: ${prev} then ${d.offset}`);
    last.set(k, d.offset);
  }
  return { lost, duplicates, reordered, delivered: deliveries.length, distinct: seen.size };
}

/** A member process (test/groups_member_proc.ts) and what it reported. */
export class MemberProcess {
  readonly id: string;
  readonly proc: ChildProcess;
  /** Processed messages, in the order reported. */
  readonly processed: Array<{ partition: number; offset: number }> = [];
  /** Highest acknowledged commit per partition. */
  readonly committed = new Map<number, number>();
  readonly assignments: Array<{ generation: number; partitions: number[]; atMs: number }> = [];
  readonly revocations: Array<{ lost: boolean; partitions: number[] }> = [];
  killed = false;
  readonly exited: Promise<number>;
  private partial = "";
  private stderr = "";

  constructor(port: number, group: string, topic: string, opts: { id: string; sessionTimeoutMs?: number; autoCommitIntervalMs?: number }) {
    this.id = opts.id;
    this.proc = spawn(
      BUN,
      ["test/groups_member_proc.ts", String(port), group, topic, String(opts.sessionTimeoutMs ?? 1_500), String(opts.autoCommitIntervalMs ?? 100), opts.id],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    liveMembers.add(this.proc);
    this.proc.stdout!.on("data", (chunk: Buffer) => this.onData(chunk.toString("utf8")));
    this.proc.stderr!.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-16_384);
    });
    this.exited = new Promise((resolve) =>
      this.proc.on("exit", (code, signal) => {
        liveMembers.delete(this.proc);
        resolve(code ?? (signal === "SIGKILL" ? 137 : 128));
      }),
    );
  }

  private onData(text: string): void {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop()!;
    for (const line of lines) {
      const [kind, a, b] = line.split(" ");
      if (kind === "M") this.processed.push({ partition: Number(a), offset: Number(b) });
      else if (kind === "C") this.committed.set(Number(a), Math.max(this.committed.get(Number(a)) ?? -1, Number(b)));
      else if (kind === "A") this.assignments.push({ generation: Number(a), partitions: b ? b.split(",").map(Number) : [], atMs: Date.now() });
      else if (kind === "R") this.revocations.push({ lost: a === "1", partitions: b ? b.split(",").map(Number) : [] });
    }
  }

  /** The partitions of its latest assignment (empty before the first). */
  get owns(): number[] {
    return this.assignments.at(-1)?.partitions ?? [];
  }

  get errors(): string {
    return this.stderr;
  }

  async kill9(): Promise<void> {
    this.killed = true;
    this.proc.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM: the member commits, leaves and exits 0. */
  async stop(): Promise<number> {
    this.proc.kill("SIGTERM");
    return this.exited;
  }

  pause(): void {
    this.proc.kill("SIGSTOP");
  }

  resume(): void {
    this.proc.kill("SIGCONT");
  }
}

const liveMembers = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of liveMembers) {
    try {
      p.kill("SIGKILL");
    } catch {
      // gone already
    }
  }
});
