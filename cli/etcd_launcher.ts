// Starts real etcd processes (Debian's /usr/bin/etcd, 3.4) on 127.0.0.1:
// one member or three, with free ports (or given ones) and a data dir each.
// Used by `sluice dev cluster` and by the tests (test/support/etcd.ts).
//
//   const etcd = await startEtcd({ members: 3 });   // healthy when it resolves
//   ... new EtcdClient({ endpoints: etcd.endpoints }) ...
//   await etcd.kill(1);                              // SIGKILL one member, by its PID
//   await etcd.stop();                               // every member, then the dirs
//
// etcd cannot advertise a port it has not been told, so ports are picked free
// by binding port 0 first and closing; if another process takes one in the
// meantime etcd exits, and the whole start is tried again (bounded). Every
// member still running when this process exits is killed.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const ETCD_BIN = process.env.SLUICE_ETCD_BIN ?? "/usr/bin/etcd";
const HEALTHY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const START_TRIES = 3;
const OUTPUT_BYTES_MAX = 256 * 1024;

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly pid: number;
  readonly running: boolean;
  output(): string;
}

export interface EtcdCluster {
  /** Client URLs, one per member, in member order. */
  readonly endpoints: string[];
  readonly members: EtcdMember[];
  /** SIGKILL of member i (by its PID); resolves once it exited. Its data dir stays until stop(). */
  kill(i: number): Promise<void>;
  /** Starts member i again on its data dir (after kill), same URLs; resolves once it reports healthy. */
  restart(i: number): Promise<void>;
  /** SIGSTOP / SIGCONT of member i. */
  pause(i: number): void;
  resume(i: number): void;
  /** SIGTERM every member still running (SIGKILL after a timeout), then removes the data dirs. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of running) {
    try {
      p.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** Whether an etcd binary is installed (tests that need one fail with this message otherwise). */
export function etcdAvailable(): boolean {
  return spawnSync(ETCD_BIN, ["--version"], { encoding: "utf8" }).status === 0;
}

/** `count` distinct free ports on 127.0.0.1 (all held open until every one is chosen). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      servers.push(server);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = (await res.json()) as { health?: string };
    return body.health === "true";
  } catch {
    return false;
  }
}

interface Started {
  proc: ChildProcess;
  exited: Promise<number>;
  out: () => string;
}

function spawnMember(args: string[]): Started {
  const proc = spawn(ETCD_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(proc);
  let out = "";
  const append = (chunk: Buffer) => {
    out += chunk.toString("utf8");
    if (out.length > OUTPUT_BYTES_MAX) out = out.slice(out.length - OUTPUT_BYTES_MAX);
  };
  proc.stdout!.on("data", append);
  proc.stderr!.on("data", append);
  const exited = new Promise<number>((resolve) => {
    proc.on("exit", (code, signal) => {
      running.delete(proc);
      resolve(code ?? (signal === "SIGKILL" ? 137 : 143));
    });
  });
  return { proc, exited, out: () => out };
}

async function stopProcess(s: Started, signal: NodeJS.Signals): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  s.proc.kill(signal);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    s.exited,
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        s.proc.kill("SIGKILL");
        resolve();
      }, STOP_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  await s.exited;
}

async function tryStart(count: number, root: string, basePort: number | undefined): Promise<EtcdCluster> {
  const ports = basePort === undefined ? await freePorts(2 * count) : Array.from({ length: 2 * count }, (_, i) => basePort + i);
  const names = Array.from({ length: count }, (_, i) => `m${i}`);
  const clientUrls = names.map((_, i) => `http://127.0.0.1:${ports[2 * i]}`);
  const peerUrls = names.map((_, i) => `http://127.0.0.1:${ports[2 * i + 1]}`);
  const initialCluster = names.map((n, i) => `${n}=${peerUrls[i]}`).join(",");
  const token = `sluice-test-${process.pid}-${ports[0]}`;
  const argsOf = names.map((name, i) => [
      "--name", name,
      "--data-dir", path.join(root, name),
      "--listen-client-urls", clientUrls[i],
      "--advertise-client-urls", clientUrls[i],
      "--listen-peer-urls", peerUrls[i],
      "--initial-advertise-peer-urls", peerUrls[i],
      "--initial-cluster", initialCluster,
      "--initial-cluster-state", "new",
      "--initial-cluster-token", token,
      "--logger", "zap",
      "--log-outputs", "stderr",
      "--log-level", "warn",
    ]);
  const started: Started[] = argsOf.map(spawnMember);
  const stopAll = async () => {
    await Promise.all(started.map((s) => stopProcess(s, "SIGTERM")));
  };
  const deadline = performance.now() + HEALTHY_TIMEOUT_MS;
  for (;;) {
    const dead = started.findIndex((s) => s.proc.exitCode !== null || s.proc.signalCode !== null);
    if (dead >= 0) {
      await stopAll();
      throw new Error(`etcd member ${names[dead]} exited during start:\n${started[dead].out()}`);
    }
    const states = await Promise.all(clientUrls.map(healthy));
    if (states.every((h) => h)) break;
    if (performance.now() > deadline) {
      await stopAll();
      throw new Error(`etcd not healthy within ${HEALTHY_TIMEOUT_MS} ms:\n${started.map((s, i) => `[${names[i]}] ${s.out()}`).join("\n")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const paused = new Set<number>();
  const members: EtcdMember[] = started.map((_, i) => ({
    name: names[i],
    clientUrl: clientUrls[i],
    peerUrl: peerUrls[i],
    // Getters: restart() replaces the member's process.
    get pid() {
      return started[i].proc.pid!;
    },
    get running() {
      return started[i].proc.exitCode === null && started[i].proc.signalCode === null;
    },
    output: () => started[i].out(),
  }));
  return {
    endpoints: clientUrls,
    members,
    async kill(i) {
      await stopProcess(started[i], "SIGKILL");
    },
    async restart(i) {
      await stopProcess(started[i], "SIGKILL");
      // An existing data dir makes etcd rejoin its cluster; --initial-cluster-state is ignored then.
      started[i] = spawnMember(argsOf[i]);
      const until = performance.now() + HEALTHY_TIMEOUT_MS;
      while (!(await healthy(clientUrls[i]))) {
        if (started[i].proc.exitCode !== null || started[i].proc.signalCode !== null) throw new Error(`etcd member ${names[i]} exited on restart:\n${started[i].out()}`);
        if (performance.now() > until) throw new Error(`etcd member ${names[i]} not healthy within ${HEALTHY_TIMEOUT_MS} ms of its restart:\n${started[i].out()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    pause(i) {
      paused.add(i);
      started[i].proc.kill("SIGSTOP");
    },
    resume(i) {
      paused.delete(i);
      started[i].proc.kill("SIGCONT");
    },
    async stop() {
      for (const i of paused) started[i].proc.kill("SIGCONT");
      paused.clear();
      await stopAll();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * Starts `members` etcd members (1 or 3) and resolves once every one reports
 * healthy. `dir`: where their data dirs go (default: a new temp dir); removed
 * by stop() either way. `basePort`: client and peer ports basePort,
 * basePort + 1, … (member i: client basePort + 2i, peer + 1) instead of free ones.
 */
export async function startEtcd(opts: { members?: 1 | 3; dir?: string; basePort?: number } = {}): Promise<EtcdCluster> {
  const count = opts.members ?? 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < START_TRIES; attempt++) {
    const root = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "sluice-etcd-"));
    fs.mkdirSync(root, { recursive: true });
    try {
      return await tryStart(count, root, opts.basePort);
    } catch (e) {
      fs.rmSync(root, { recursive: true, force: true });
      lastError = e;
      // A port taken between choosing and binding: choose again. Anything else fails the same way again.
      if (opts.basePort !== undefined || !/address already in use/i.test(String((e as Error)?.message))) break;
    }
  }
  throw lastError;
}
