// A whole cluster on this machine as child processes: etcd members (free
// ports) and brokers (`sluice serve --cluster-etcd …`), data under one folder.
// Used by `sluice dev cluster` (dev_cmd.ts) and by the cluster benchmarks
// (bench/cluster_bench.ts, bench/cluster_failover.ts), which need real broker
// processes they can kill.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { startEtcd } from "./etcd_launcher.ts";

export const DEV_CLUSTER_BROKERS_MAX = 9;
const BROKER_READY_TIMEOUT_MS = 60_000;
const BROKER_STOP_TIMEOUT_MS = 20_000;
const READY_LINE = /sluice listening on ([^\s:]+):(\d+) \((?:kafka (\d+), )?http (\d+)\)/;

export interface RunningBroker {
  id: number;
  proc: ChildProcess;
  port: number;
  kafkaPort: number;
  httpPort: number;
  exited: Promise<number>;
}

export interface DevClusterOptions {
  brokers: number;
  etcdMembers: 1 | 3;
  /** Broker i listens on basePort + 10·(i−1), http one above, kafka two above; 0 = any free ports. */
  basePort: number;
  /** Where data goes: etcd/ and broker-<id>/ under it. */
  dir: string;
  /** More `serve` arguments for every broker (e.g. --cluster-lease-ttl-seconds 2). */
  serveArgs?: readonly string[];
  /** Runtime flags before the script (e.g. --cpu-prof-md --cpu-prof-dir=DIR to profile the brokers). */
  runtimeArgs?: readonly string[];
  /** Where the brokers' stderr lines go (default: this process's stderr, prefixed). */
  brokerLog?: (id: number, line: string) => void;
}

export interface DevCluster {
  readonly etcd: Awaited<ReturnType<typeof startEtcd>>;
  readonly brokers: RunningBroker[];
  /** Starts broker `id` again on its data dir (after a kill), on any free ports. */
  restartBroker(id: number): Promise<RunningBroker>;
  /** Brokers (SIGTERM, then SIGKILL after a while), then etcd. Idempotent. */
  stop(): Promise<void>;
}

export async function startBroker(
  id: number,
  etcd: readonly string[],
  dir: string,
  ports: { port: number; httpPort: number; kafkaPort: number },
  opts: { serveArgs?: readonly string[]; runtimeArgs?: readonly string[]; brokerLog?: (id: number, line: string) => void } = {},
): Promise<RunningBroker> {
  const main = path.join(import.meta.dir, "main.ts");
  const args = [
    ...(opts.runtimeArgs ?? []), main, "serve", "--cluster-etcd", etcd.join(","), "--broker-id", String(id),
    "--port", String(ports.port), "--http-port", String(ports.httpPort), "--kafka-port", String(ports.kafkaPort),
    "--data-dir", path.join(dir, `broker-${id}`), ...(opts.serveArgs ?? []),
  ];
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number>((resolve) => proc.on("exit", (code, signal) => resolve(code ?? (signal === "SIGKILL" ? 137 : 143))));
  const log = opts.brokerLog ?? ((i: number, line: string) => process.stderr.write(`[broker ${i}] ${line}\n`));
  proc.stderr!.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") log(id, line);
  });
  const ready = await new Promise<RegExpMatchArray>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`broker ${id} not ready within ${BROKER_READY_TIMEOUT_MS} ms`)), BROKER_READY_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const m = READY_LINE.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        proc.stdout!.off("data", onData);
        proc.stdout!.resume(); // keep draining stdout so the broker never blocks on it
        resolve(m);
      }
    };
    proc.stdout!.on("data", onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker ${id} exited with ${code} before it was ready`));
    });
  });
  return { id, proc, port: Number(ready[2]), kafkaPort: Number(ready[3]), httpPort: Number(ready[4]), exited };
}

export async function stopBroker(b: RunningBroker): Promise<void> {
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

/** Starts etcd and the brokers; on a failure everything started is stopped and the error thrown. */
export async function startDevCluster(o: DevClusterOptions): Promise<DevCluster> {
  if (!Number.isInteger(o.brokers) || o.brokers < 1 || o.brokers > DEV_CLUSTER_BROKERS_MAX) throw new Error(`brokers must be 1..${DEV_CLUSTER_BROKERS_MAX}`);
  fs.mkdirSync(o.dir, { recursive: true });
  const brokers: RunningBroker[] = [];
  let etcd: DevCluster["etcd"] | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await Promise.all(brokers.map(stopBroker));
      await etcd?.stop();
    })());
  try {
    etcd = await startEtcd({ members: o.etcdMembers, dir: path.join(o.dir, "etcd") });
    for (let id = 1; id <= o.brokers; id++) {
      const port = o.basePort === 0 ? 0 : o.basePort + 10 * (id - 1);
      const ports = { port, httpPort: port === 0 ? 0 : port + 1, kafkaPort: port === 0 ? 0 : port + 2 };
      brokers.push(await startBroker(id, etcd.endpoints, o.dir, ports, o));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const started = etcd;
  return {
    etcd: started,
    brokers,
    async restartBroker(id: number): Promise<RunningBroker> {
      const i = brokers.findIndex((b) => b.id === id);
      if (i < 0) throw new Error(`no broker ${id}`);
      await stopBroker(brokers[i]);
      const b = await startBroker(id, started.endpoints, o.dir, { port: 0, httpPort: 0, kafkaPort: 0 }, o);
      brokers[i] = b;
      return b;
    },
    stop,
  };
}
