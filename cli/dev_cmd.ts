// `sluice dev cluster`: a whole cluster on this machine, to try it out.
//
//   sluice dev cluster [--brokers 3] [--etcd-members 3|1] [--base-port 9900] [--dir DIR] [--keep]
//   (npm run cluster)
//
// Starts etcd members (free ports) and brokers (`sluice serve --cluster-etcd
// …`; broker i on base-port + 10·(i−1), http one above; --base-port 0: any
// free ports), data under one temp folder, prints how to reach them and their
// PIDs (kill -9 one and watch `sluice cluster status`), and on Ctrl-C stops
// the brokers (SIGTERM), then etcd, then removes the folder (unless --keep).
// Once everything is up it prints the line `sluice dev cluster ready`.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { DEV_CLUSTER_BROKERS_MAX as BROKERS_MAX, type DevCluster, startDevCluster } from "./dev_cluster.ts";

const USAGE = `usage:
  sluice dev cluster [--brokers N] [--etcd-members 3|1] [--base-port PORT] [--dir DIR] [--keep]

  --brokers N          brokers to start, 1..9 (default 3)
  --etcd-members 3|1   etcd members (default 3)
  --base-port PORT     broker i listens on PORT + 10*(i-1), http one above, kafka two above; 0 = any free ports (default 9900)
  --dir DIR            where data goes (default: a new temp folder)
  --keep               leave the data folder in place on exit`;

async function cluster(argv: string[]): Promise<number> {
  let values: { brokers?: string; "etcd-members"?: string; "base-port"?: string; dir?: string; keep?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { brokers: { type: "string" }, "etcd-members": { type: "string" }, "base-port": { type: "string" }, dir: { type: "string" }, keep: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      strict: true,
    }));
  } catch (e) {
    console.error(`sluice dev cluster: ${String((e as Error).message).split("\n")[0]}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const brokersCount = Number(values.brokers ?? 3);
  const members = Number(values["etcd-members"] ?? 3);
  const basePort = Number(values["base-port"] ?? 9900);
  if (!Number.isInteger(brokersCount) || brokersCount < 1 || brokersCount > BROKERS_MAX) {
    console.error(`sluice dev cluster: --brokers must be 1..${BROKERS_MAX}\n${USAGE}`);
    return 2;
  }
  if (members !== 1 && members !== 3) {
    console.error(`sluice dev cluster: --etcd-members must be 1 or 3\n${USAGE}`);
    return 2;
  }
  if (!Number.isInteger(basePort) || basePort < 0 || basePort + 10 * BROKERS_MAX > 65_535) {
    console.error(`sluice dev cluster: --base-port must be 0 or a port with room for ${BROKERS_MAX} brokers above it\n${USAGE}`);
    return 2;
  }
  const ownDir = values.dir === undefined;
  const dir = values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "sluice-dev-"));
  fs.mkdirSync(dir, { recursive: true });

  let devCluster: DevCluster;
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      await devCluster.stop();
      if (values.keep !== true) {
        if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
        else for (let i = 1; i <= brokersCount; i++) fs.rmSync(path.join(dir, `broker-${i}`), { recursive: true, force: true });
      }
    })());

  try {
    devCluster = await startDevCluster({ brokers: brokersCount, etcdMembers: members as 1 | 3, basePort, dir });
  } catch (e) {
    console.error(`sluice dev cluster: could not start: ${(e as Error)?.message ?? e}`);
    if (values.keep !== true && ownDir) fs.rmSync(dir, { recursive: true, force: true });
    return 1;
  }
  const { etcd, brokers: running } = devCluster;
  for (const b of running) {
    b.exited.then((code) => {
      if (stopping === undefined) console.error(`sluice dev cluster: broker ${b.id} (pid ${b.proc.pid}) exited with ${code}`);
    });
  }

  const endpoints = etcd.endpoints.join(",");
  const lines = [
    `sluice dev cluster: ${members} etcd member${members === 1 ? "" : "s"}, ${brokersCount} broker${brokersCount === 1 ? "" : "s"}, data under ${dir}`,
    `  etcd        ${endpoints}   (pids ${etcd.members.map((m) => m.pid).join(", ")})`,
    ...running.map((b) => `  broker ${b.id}    127.0.0.1:${b.port}   kafka ${b.kafkaPort}   http ${b.httpPort}   pid ${b.proc.pid}`),
    "try:",
    `  sluice cluster status --etcd ${endpoints}`,
    `  sluice topics create demo --partitions 6 --replication-factor ${Math.min(3, brokersCount)} --broker ${running.map((b) => `127.0.0.1:${b.port}`).join(",")}`,
    `  sluice topics describe demo --broker 127.0.0.1:${running[0].port}   (leader, replicas and ISR per partition)`,
    `  kill -9 <a broker's pid>, then the status again: it is gone once its lease expires (2 s), and if it was the controller another broker is`,
    "Ctrl-C stops everything.",
    "sluice dev cluster ready",
  ];
  console.log(lines.join("\n"));

  return await new Promise<number>((resolve) => {
    const onSignal = (signal: string) => {
      if (stopping !== undefined) return;
      console.error(`sluice dev cluster: ${signal}: stopping brokers, then etcd`);
      stopAll().then(
        () => resolve(0),
        (e) => {
          console.error(`sluice dev cluster: stop failed: ${(e as Error)?.message ?? e}`);
          resolve(1);
        },
      );
    };
    process.on("SIGINT", () => onSignal("SIGINT"));
    process.on("SIGTERM", () => onSignal("SIGTERM"));
  });
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "cluster") return await cluster(rest);
  if (sub === "--help" || sub === "-h") {
    console.log(USAGE);
    return 0;
  }
  console.error(`sluice dev: ${sub === undefined ? "a subcommand is needed" : `unknown subcommand '${sub}'`}\n${USAGE}`);
  return 2;
}
