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

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startEtcd } from "./etcd_launcher.ts";

const USAGE = `usage:
  sluice dev cluster [--brokers N] [--etcd-members 3|1] [--base-port PORT] [--dir DIR] [--keep]

  --brokers N          brokers to start, 1..9 (default 3)
  --etcd-members 3|1   etcd members (default 3)
  --base-port PORT     broker i listens on PORT + 10*(i-1), http one above, kafka two above; 0 = any free ports (default 9900)
  --dir DIR            where data goes (default: a new temp folder)
  --keep               leave the data folder in place on exit`;

const BROKERS_MAX = 9;
const BROKER_READY_TIMEOUT_MS = 60_000;
const BROKER_STOP_TIMEOUT_MS = 20_000;
const READY_LINE = /sluice listening on ([^\s:]+):(\d+) \((?:kafka (\d+), )?http (\d+)\)/;

interface RunningBroker {
  id: number;
  proc: ChildProcess;
  port: number;
  kafkaPort: number;
  httpPort: number;
  exited: Promise<number>;
}

async function startBroker(id: number, etcd: string[], dir: string, port: number, httpPort: number, kafkaPort: number): Promise<RunningBroker> {
  const main = path.join(import.meta.dir, "main.ts");
  const args = [main, "serve", "--cluster-etcd", etcd.join(","), "--broker-id", String(id), "--port", String(port), "--http-port", String(httpPort), "--kafka-port", String(kafkaPort), "--data-dir", path.join(dir, `broker-${id}`)];
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number>((resolve) => proc.on("exit", (code, signal) => resolve(code ?? (signal === "SIGKILL" ? 137 : 143))));
  proc.stderr!.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") process.stderr.write(`[broker ${id}] ${line}\n`);
  });
  const ready = await new Promise<RegExpMatchArray>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`broker ${id} not ready within ${BROKER_READY_TIMEOUT_MS} ms`)), BROKER_READY_TIMEOUT_MS);
    proc.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const m = READY_LINE.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker ${id} exited with ${code} before it was ready`));
    });
  });
  return { id, proc, port: Number(ready[2]), kafkaPort: Number(ready[3]), httpPort: Number(ready[4]), exited };
}

async function stopBroker(b: RunningBroker): Promise<void> {
  if (b.proc.exitCode !== null || b.proc.signalCode !== null) return;
  b.proc.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([b.exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, BROKER_STOP_TIMEOUT_MS)))]);
  clearTimeout(timer);
  if (b.proc.exitCode === null && b.proc.signalCode === null) {
    b.proc.kill("SIGKILL");
    await b.exited;
  }
}

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

  const running: RunningBroker[] = [];
  let etcd: Awaited<ReturnType<typeof startEtcd>> | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      await Promise.all(running.map(stopBroker));
      await etcd?.stop();
      if (values.keep !== true) {
        if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
        else for (let i = 1; i <= brokersCount; i++) fs.rmSync(path.join(dir, `broker-${i}`), { recursive: true, force: true });
      }
    })());

  try {
    etcd = await startEtcd({ members: members as 1 | 3, dir: path.join(dir, "etcd") });
    for (let id = 1; id <= brokersCount; id++) {
      const port = basePort === 0 ? 0 : basePort + 10 * (id - 1);
      const b = await startBroker(id, etcd.endpoints, dir, port, port === 0 ? 0 : port + 1, port === 0 ? 0 : port + 2);
      running.push(b);
      b.exited.then((code) => {
        if (stopping === undefined) console.error(`sluice dev cluster: broker ${id} (pid ${b.proc.pid}) exited with ${code}`);
      });
    }
  } catch (e) {
    console.error(`sluice dev cluster: could not start: ${(e as Error)?.message ?? e}`);
    await stopAll();
    return 1;
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
