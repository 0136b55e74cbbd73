// `sluice serve --cluster-etcd …` and `sluice cluster status` as real
// processes against a real etcd: brokers register with their real ports, one
// is controller with an epoch, a SIGTERM'd controller hands over at once, a
// duplicate id and an unreachable etcd stop the start with exit 1, and a
// broker without --cluster-etcd needs no etcd at all.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CONTROLLED_SHUTDOWN_TIMEOUT_MS, ClusterKeys, EtcdClient, readClusterStatus } from "../cluster/mod.ts";
import { parseBrokerConfig } from "../engine/broker_config.ts";
import { mergeConfigSources } from "../cli/serve_cmd.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { ETCD_WAIT, type EtcdCluster, freePorts, startEtcd } from "./support/etcd.ts";
import { letTimePass, waitFor, waitForValue } from "./support/wait_for.ts";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUN = path.join(REPO_ROOT, "node_modules", ".bin", "bun");

let etcd: EtcdCluster;
const brokers: BrokerProcess[] = [];

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
});
afterAll(async () => {
  await etcd?.stop();
});
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.cleanup();
});

let seq = 0;
const clusterName = () => `serve${process.pid}-${++seq}`;

async function clusterBroker(name: string, id: number, extra: string[] = []): Promise<BrokerProcess> {
  const b = await startBroker({ args: ["--cluster-etcd", etcd.endpoints.join(","), "--broker-id", String(id), "--cluster-name", name, ...extra] });
  brokers.push(b);
  return b;
}

interface StatusJson {
  cluster: string;
  revision: number;
  brokers: { id: number; host: string; port: number; httpPort: number; rack: string | null }[];
  controller: { brokerId: number; epoch: number } | null;
}

/** `sluice cluster status` as a process (async: the test's own event loop keeps running). */
async function status(name: string, args: string[] = ["--json"]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = spawn(BUN, ["cli/main.ts", "cluster", "status", "--etcd", etcd.endpoints.join(","), "--cluster-name", name, ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
  proc.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const code = await new Promise<number>((resolve) => proc.on("exit", (c) => resolve(c ?? 1)));
  return { code, stdout, stderr };
}

/**
 * The cluster as etcd holds it, read in-process (what `sluice cluster status`
 * prints, without starting a process): the probe of the waits, each followed
 * by the command's own answer where the test checks what it shows.
 */
async function etcdStatus(name: string, endpoints: readonly string[] = etcd.endpoints) {
  return await readClusterStatus(new EtcdClient({ endpoints: [...endpoints] }), new ClusterKeys(name));
}

async function statusJson(name: string): Promise<StatusJson> {
  const r = await status(name);
  if (r.code !== 0) throw new Error(`cluster status failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusJson;
}

describe("sluice serve in a cluster", () => {
  test("two brokers register their real ports and rack; one is controller; status shows both and the epoch", async () => {
    const name = clusterName();
    const b1 = await clusterBroker(name, 1, ["--rack", "r1"]);
    const b2 = await clusterBroker(name, 2);
    await waitFor(async () => {
      const now = await etcdStatus(name);
      return now.brokers.length === 2 && now.controller !== null;
    }, { ...ETCD_WAIT, what: "both registered and a controller" });
    const s: StatusJson | undefined = await statusJson(name);
    expect(s!.brokers).toEqual([
      { id: 1, host: "127.0.0.1", port: b1.port, kafkaPort: b1.kafkaPort, httpPort: b1.httpPort, rack: "r1", startedAtMs: expect.any(Number) } as never,
      { id: 2, host: "127.0.0.1", port: b2.port, kafkaPort: b2.kafkaPort, httpPort: b2.httpPort, rack: null, startedAtMs: expect.any(Number) } as never,
    ]);
    expect(s!.controller!.brokerId).toBe(1); // the first to start campaigned alone
    expect(s!.controller!.epoch).toBeGreaterThan(0);
    // /metrics says the same, from each broker's own view.
    const metric = async (b: BrokerProcess, family: string) => {
      const text = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();
      const m = new RegExp(`^${family} (\\S+)$`, "m").exec(text);
      return m === null ? undefined : Number(m[1]);
    };
    await waitFor(async () => (await metric(b1, "sluice_cluster_brokers")) === 2 && (await metric(b2, "sluice_cluster_brokers")) === 2, { ...ETCD_WAIT, what: "both views see two brokers" });
    expect(await metric(b1, "sluice_cluster_controller")).toBe(1);
    expect(await metric(b2, "sluice_cluster_controller")).toBe(0);
    expect(await metric(b2, "sluice_cluster_controller_epoch")).toBe(s!.controller!.epoch);
    expect(await metric(b1, "sluice_cluster_session_suspended")).toBe(0);
    expect(await metric(b1, "sluice_cluster_brokers_shutting_down")).toBe(0);
    expect(await metric(b1, "sluice_cluster_partitions_offline")).toBe(0);
    const table = await status(name, []);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`controller: broker 1 (epoch ${s!.controller!.epoch})`);
    // The IN and OUT columns (one-minute rates) show "-" until the broker's first load report.
    expect(table.stdout).toMatch(new RegExp(`1\\s+127\\.0\\.0\\.1:${b1.port}\\s+${b1.httpPort}\\s+r1\\s+(-|\\S+ \\S+ \\d+ msg/s)\\s+(-|\\S+ \\S+ \\d+ msg/s)\\s+controller`));

    // SIGTERM of the controller: it resigns and revokes its session, so broker 2 takes over without a TTL wait.
    const stoppedAt = performance.now();
    expect(await b1.stop()).toBe(0);
    await waitFor(async () => {
      const now = await etcdStatus(name);
      return now.controller?.brokerId === 2 && now.brokers.length === 1;
    }, { ...ETCD_WAIT, what: "broker 2 is controller, broker 1 gone" });
    expect(performance.now() - stoppedAt).toBeLessThan(2_000 + 1_500); // SIGTERM handling + no lease wait
    const after = await statusJson(name);
    expect(after.brokers.map((b) => b.id)).toEqual([2]);
    expect(after.controller!.brokerId).toBe(2);
    expect(after.controller!.epoch).toBeGreaterThan(s!.controller!.epoch);
    expect(b1.output()).toContain("broker 1 is the controller");
  });

  test("a broker killed with SIGKILL leaves the cluster when its lease expires", async () => {
    const name = clusterName();
    const b1 = await clusterBroker(name, 1, ["--cluster-lease-ttl-seconds", "2"]);
    await clusterBroker(name, 2);
    await waitFor(async () => (await etcdStatus(name)).brokers.length === 2, { ...ETCD_WAIT, what: "two brokers" });
    await b1.kill9();
    const killedAt = performance.now();
    await waitFor(async () => {
      const s = await etcdStatus(name);
      return s.brokers.length === 1 && s.controller?.brokerId === 2;
    }, { what: "broker 1 gone and 2 controller", timeoutMs: 15_000, everyMs: 20 });
    expect(performance.now() - killedAt).toBeLessThan(2_000 + 3_000);
    const s = await statusJson(name);
    expect({ brokers: s.brokers.map((b) => b.id), controller: s.controller?.brokerId }).toEqual({ brokers: [2], controller: 2 });
  });

  test("a broker paused past its lease (SIGSTOP) loses its session and controllership, and rejoins with a new session when resumed", async () => {
    const name = clusterName();
    const b1 = await clusterBroker(name, 1);
    await clusterBroker(name, 2);
    await waitFor(async () => {
      const s = await etcdStatus(name);
      return s.brokers.length === 2 && s.controller?.brokerId === 1;
    }, { ...ETCD_WAIT, what: "two brokers, broker 1 controller" });
    b1.proc.kill("SIGSTOP");
    let epoch2: number;
    try {
      epoch2 = await waitForValue(async () => {
        const s = await etcdStatus(name);
        return s.brokers.length === 1 && s.controller?.brokerId === 2 ? s.controller.epoch : undefined;
      }, { what: "broker 1 gone, broker 2 controller", timeoutMs: 15_000, everyMs: 20 });
    } finally {
      b1.proc.kill("SIGCONT");
    }
    await waitFor(async () => (await etcdStatus(name)).brokers.length === 2, { what: "broker 1 registered again", timeoutMs: 15_000, everyMs: 20 });
    const s = await statusJson(name);
    expect(s.controller).toEqual({ brokerId: 2, epoch: epoch2 }); // the returning broker does not take the controllership back
    expect(s.brokers.find((b) => b.id === 1)!.port).toBe(b1.port);
    await waitFor(() => b1.output().includes("rejoined the cluster (session 2)"), { ...ETCD_WAIT, what: "broker 1 says why" });
    expect(b1.output()).toMatch(/cluster session of broker 1 lost: (etcd says lease \S+ is gone|.*deadline)/);
  });

  test("a second broker with a live broker's id exits 1 and says which broker holds it", async () => {
    const name = clusterName();
    const b1 = await clusterBroker(name, 7);
    const e = await clusterBroker(name, 7).catch((err: Error) => err);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toContain("exited with 1");
    expect((e as Error).message).toContain(`broker id 7 is already registered by the broker at 127.0.0.1:${b1.port}`);
    const s = await statusJson(name);
    expect(s.brokers.map((b) => `${b.id}@${b.port}`)).toEqual([`7@${b1.port}`]);
  });

  test("etcd unreachable at start: a clear error naming the endpoint, exit 1, nothing listening", async () => {
    const [port] = await freePorts(1);
    const r = spawnSync(BUN, ["cli/main.ts", "serve", "--port", "0", "--http-port", "0", "--cluster-etcd", `http://127.0.0.1:${port}`, "--broker-id", "1"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`sluice serve: cannot reach etcd at http://127.0.0.1:${port}`);
    expect(r.stderr).toContain("etcd unreachable: no member");
    expect(r.stdout).not.toContain("sluice listening");
  });

  test("sluice cluster status: etcd unreachable is exit 1, a missing --etcd is exit 2", async () => {
    const [port] = await freePorts(1);
    const r = spawnSync(BUN, ["cli/main.ts", "cluster", "status", "--etcd", `http://127.0.0.1:${port}`], { cwd: REPO_ROOT, encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("ETCD_UNREACHABLE");
    const env = { ...process.env };
    delete env.SLUICE_CLUSTER_ETCD;
    const r2 = spawnSync(BUN, ["cli/main.ts", "cluster", "status"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 30_000, env });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain("--etcd");
  });
});

describe("sluice serve with a three-member etcd", () => {
  let three: EtcdCluster;
  beforeAll(async () => {
    three = await startEtcd({ members: 3 });
  });
  afterAll(async () => {
    await three?.stop();
  });

  test("killing the etcd member a broker talks to costs it neither its registration nor the controllership", async () => {
    const name = clusterName();
    // Both brokers prefer member 0: it is the one that dies.
    const b1 = await startBroker({ args: ["--cluster-etcd", three.endpoints.join(","), "--broker-id", "1", "--cluster-name", name] });
    brokers.push(b1);
    const b2 = await startBroker({ args: ["--cluster-etcd", three.endpoints.join(","), "--broker-id", "2", "--cluster-name", name] });
    brokers.push(b2);
    const statusOn = async (endpoints: string[]) => {
      const r = spawnSync(BUN, ["cli/main.ts", "cluster", "status", "--json", "--etcd", endpoints.join(","), "--cluster-name", name], { cwd: REPO_ROOT, encoding: "utf8", timeout: 20_000 });
      if (r.status !== 0) throw new Error(r.stderr);
      return JSON.parse(r.stdout) as StatusJson;
    };
    await waitFor(async () => {
      const now = await etcdStatus(name, three.endpoints);
      return now.brokers.length === 2 && now.controller !== null;
    }, { ...ETCD_WAIT, what: "two brokers and a controller" });
    const before: StatusJson | undefined = await statusOn(three.endpoints);
    await three.kill(0);
    // Two TTLs and a bit passing is the behaviour under test: a broker whose keepalives had stopped would be gone by now.
    await letTimePass(2 * 2_000 + 1_000);
    const after = await statusOn(three.endpoints.slice(1));
    expect(after.brokers.map((b) => b.id)).toEqual([1, 2]);
    expect(after.controller).toEqual(before!.controller);
    expect(b1.output()).not.toContain("session of broker 1 lost");
    expect(b2.output()).not.toContain("session of broker 2 lost");
  });
});

describe("cluster configuration", () => {
  test("flags, SLUICE_* variables and the config file set the cluster fields; the list flag splits on commas", () => {
    const cfg = parseBrokerConfig(
      mergeConfigSources({
        argv: ["--cluster-etcd", "http://127.0.0.1:1,http://127.0.0.1:2", "--rack", "r9"],
        env: { SLUICE_BROKER_ID: "4", SLUICE_CLUSTER_NAME: "prod-1", SLUICE_CLUSTER_LEASE_TTL_SECONDS: "5", SLUICE_CONTROLLED_SHUTDOWN_TIMEOUT_MS: "0" },
      }).merged,
    );
    expect(cfg).toMatchObject({ clusterEtcd: ["http://127.0.0.1:1", "http://127.0.0.1:2"], brokerId: 4, clusterName: "prod-1", rack: "r9", clusterLeaseTtlSeconds: 5, controlledShutdownTimeoutMs: 0 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-cfg-"));
    try {
      const file = path.join(dir, "sluice.json");
      fs.writeFileSync(file, JSON.stringify({ clusterEtcd: ["http://127.0.0.1:3"], brokerId: 8, clusterName: "from-file" }));
      const fromFile = parseBrokerConfig(mergeConfigSources({ argv: ["--config", file, "--broker-id", "9"], env: {} }).merged);
      expect(fromFile).toMatchObject({ clusterEtcd: ["http://127.0.0.1:3"], brokerId: 9, clusterName: "from-file" });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("without --cluster-etcd the broker is a single node: no cluster fields required", () => {
    const cfg = parseBrokerConfig(mergeConfigSources({ argv: [], env: {} }).merged);
    expect(cfg.clusterEtcd).toBeUndefined();
    expect(cfg.clusterName).toBe("default");
    expect(cfg.controlledShutdownTimeoutMs).toBe(CONTROLLED_SHUTDOWN_TIMEOUT_MS);
  });

  test("--cluster-etcd without --broker-id, a bad URL, a TTL below etcd's minimum: refused with exit 2, by name", () => {
    const serve = (...args: string[]) => spawnSync(BUN, ["cli/main.ts", "serve", ...args], { cwd: REPO_ROOT, encoding: "utf8", timeout: 20_000 });
    const noId = serve("--cluster-etcd", "http://127.0.0.1:2379");
    expect(noId.status).toBe(2);
    expect(noId.stderr).toContain("brokerId (--broker-id, SLUICE_BROKER_ID)");
    const badTtl = serve("--cluster-etcd", "http://127.0.0.1:2379", "--broker-id", "1", "--cluster-lease-ttl-seconds", "1");
    expect(badTtl.status).toBe(2);
    expect(badTtl.stderr).toContain("clusterLeaseTtlSeconds (--cluster-lease-ttl-seconds");
    const badWait = serve("--cluster-etcd", "http://127.0.0.1:2379", "--broker-id", "1", "--controlled-shutdown-timeout-ms", "-1");
    expect(badWait.status).toBe(2);
    expect(badWait.stderr).toContain("controlledShutdownTimeoutMs (--controlled-shutdown-timeout-ms");
    expect(() => parseBrokerConfig({ clusterEtcd: ["127.0.0.1:2379"], brokerId: 1 })).toThrow(/clusterEtcd/);
  });

  test("a broker without --cluster-etcd starts and serves with no etcd anywhere", async () => {
    const b = await startBroker();
    brokers.push(b);
    const health = await fetch(`http://127.0.0.1:${b.httpPort}/healthz`);
    expect(health.status).toBe(200);
    expect(b.output()).not.toContain("cluster");
  });
});
