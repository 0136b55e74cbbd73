// `sluice groups`: look at and administer consumer groups.
//
//   sluice groups list [--json]
//   sluice groups describe GROUP [--json]
//   sluice groups reset-offsets GROUP --topic T --to earliest|latest|OFFSET [--partitions 0,1] [--json]
//
// Common: --broker HOST:PORT (default SLUICE_BROKER or 127.0.0.1:9900).
// Exit codes: 0 done, 1 the broker refused (message on stderr), 2 bad usage.

import { errorInfo, SluiceError } from "../protocol/errors.ts";
import type { GroupDescription } from "../protocol/messages/groups.ts";
import { GroupAdmin } from "../client/group_admin.ts";
import { connectGroupRpc } from "../client/group_transport.ts";

const USAGE = `usage:
  sluice groups list [--json]
  sluice groups describe GROUP [--json]
  sluice groups reset-offsets GROUP --topic TOPIC --to earliest|latest|OFFSET [--partitions 0,1,...] [--json]

options:
  --broker HOST:PORT   the broker (default $SLUICE_BROKER or 127.0.0.1:9900)
  --json               print JSON instead of a table

reset-offsets is refused while the group has members (stop its consumers first).`;

class UsageError extends Error {}

interface Parsed {
  sub: string;
  positional: string[];
  broker: string;
  json: boolean;
  topic?: string;
  to?: string;
  partitions?: number[];
}

export function parseGroupsArgs(argv: string[], env: Record<string, string | undefined> = process.env): Parsed {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") throw new UsageError("");
  const out: Parsed = { sub, positional: [], broker: env.SLUICE_BROKER || "127.0.0.1:9900", json: false };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const value = (): string => {
      const v = rest[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === "--json") out.json = true;
    else if (arg === "--broker" || arg === "--brokers" || arg === "-b") out.broker = value().split(",")[0];
    else if (arg === "--topic" || arg === "-t") out.topic = value();
    else if (arg === "--to") out.to = value();
    else if (arg === "--partitions") {
      const raw = value();
      const parts = raw.split(",").map((x) => x.trim());
      if (parts.some((x) => !/^\d+$/.test(x))) throw new UsageError(`--partitions: expected a comma-separated list of partition numbers, got '${raw}'`);
      out.partitions = parts.map(Number);
    } else if (arg === "--help" || arg === "-h") throw new UsageError("");
    else if (arg.startsWith("-")) throw new UsageError(`unknown option '${arg}'`);
    else out.positional.push(arg);
  }
  return out;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

export function formatDescription(d: GroupDescription): string {
  const lines = [`group ${d.groupId}: ${d.state}, generation ${d.generationId}, ${d.members.length} member(s)${d.assignor ? `, assignor ${d.assignor}` : ""}`];
  if (d.members.length > 0) {
    lines.push(
      "",
      table(
        ["MEMBER", "CLIENT", "TOPICS", "ASSIGNMENT", "LAST-SEEN"],
        d.members.map((m) => [
          m.memberId + (m.memberId === d.leaderId ? " (leader)" : ""),
          m.clientId || "-",
          m.topics.join(","),
          m.assignment.map((a) => `${a.topic}[${a.partitions.join(",")}]`).join(" ") || "-",
          `${m.lastSeenAgoMs} ms ago`,
        ]),
      ),
    );
  }
  if (d.offsets.length > 0) {
    lines.push(
      "",
      table(
        ["TOPIC", "PARTITION", "COMMITTED", "HIGH-WATERMARK", "LAG", "MEMBER"],
        d.offsets.map((o) => [
          o.topic,
          String(o.partition),
          o.committedOffset < 0 ? "-" : String(o.committedOffset),
          o.highWatermark < 0 ? "-" : String(o.highWatermark),
          o.lag < 0 ? "-" : String(o.lag),
          o.memberId || "-",
        ]),
      ),
    );
    const total = d.offsets.reduce((n, o) => n + Math.max(0, o.lag), 0);
    lines.push("", `total lag ${total}`);
  }
  return lines.join("\n");
}

export async function run(argv: string[]): Promise<number> {
  if (argv.length === 0) {
    console.error(USAGE);
    return 2;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let args: Parsed;
  try {
    args = parseGroupsArgs(argv);
  } catch (e) {
    console.error(`sluice groups: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  let to: "earliest" | "latest" | number | undefined;
  try {
    if (args.sub === "describe" && args.positional.length !== 1) throw new UsageError("describe needs exactly one GROUP");
    if (args.sub === "list" && args.positional.length !== 0) throw new UsageError("list takes no arguments");
    if (args.sub === "reset-offsets") {
      if (args.positional.length !== 1) throw new UsageError("reset-offsets needs exactly one GROUP");
      if (args.topic === undefined) throw new UsageError("reset-offsets needs --topic");
      if (args.to === "earliest" || args.to === "latest") to = args.to;
      else if (args.to !== undefined && /^\d+$/.test(args.to)) to = Number(args.to);
      else throw new UsageError("reset-offsets needs --to earliest, latest or an offset");
    }
    if (!["list", "describe", "reset-offsets"].includes(args.sub)) throw new UsageError(`unknown subcommand '${args.sub}'`);
  } catch (e) {
    console.error(`sluice groups: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }

  let rpc: Awaited<ReturnType<typeof connectGroupRpc>> | undefined;
  try {
    rpc = await connectGroupRpc({ broker: args.broker, clientId: "sluice-cli" });
    const admin = new GroupAdmin(rpc);
    if (args.sub === "list") {
      const groups = await admin.listGroups();
      if (args.json) console.log(JSON.stringify(groups, null, 2));
      else if (groups.length === 0) console.log("no groups");
      else console.log(table(["GROUP", "STATE", "MEMBERS"], groups.map((g) => [g.groupId, g.state, String(g.members)])));
      return 0;
    }
    if (args.sub === "describe") {
      const d = await admin.describeGroup(args.positional[0]);
      console.log(args.json ? JSON.stringify(d, null, 2) : formatDescription(d));
      return 0;
    }
    const res = await admin.resetOffsets(args.positional[0], args.topic!, to!, args.partitions);
    if (args.json) console.log(JSON.stringify(res, null, 2));
    else {
      console.log(
        table(
          ["TOPIC", "PARTITION", "NEW-OFFSET", "RESULT"],
          res.partitions.map((p) => [res.topic, String(p.partition), p.offset < 0 ? "-" : String(p.offset), p.errorCode === 0 ? "ok" : errorInfo(p.errorCode).name]),
        ),
      );
    }
    return res.partitions.every((p) => p.errorCode === 0) ? 0 : 1;
  } catch (e) {
    if (e instanceof SluiceError) console.error(`sluice groups: ${errorInfo(e.code).name}: ${e.message}`);
    else console.error(`sluice groups: ${(e as Error)?.message ?? e}`);
    return 1;
  } finally {
    await rpc?.close();
  }
}
