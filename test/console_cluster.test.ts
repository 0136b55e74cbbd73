// The console API of a broker in cluster mode (docs/CONSOLE.md), with a real
// etcd and two real broker processes: /api/v1/overview lists the live brokers,
// the controller and the partition counts as `sluice cluster status --json`
// reads them from etcd, and /api/v1/topics/{topic} gives per partition the
// leader, leader epoch, replicas and ISR the native metadata gives. Then the
// page in headless Chromium (/usr/bin/chromium, playwright-core): the brokers
// with the controller marked, and after one broker is killed the
// under-replicated count and the short ISRs highlighted (screenshots kept in
// the temp dir the test prints).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { Admin } from "../client/mod.ts";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { ETCD_WAIT, type EtcdCluster, startEtcd } from "./support/etcd.ts";
import { waitFor } from "./support/wait_for.ts";

const BROKER_IDS = [1, 2];
const clusterName = `console${process.pid}`;
let etcd: EtcdCluster;
const brokers = new Map<number, BrokerProcess>();
const admins: Admin[] = [];
let browser: BrowserContext | undefined;
let shotsDir: string;

function admin(id: number): Admin {
  const a = new Admin({ broker: `127.0.0.1:${brokers.get(id)!.port}` });
  admins.push(a);
  return a;
}

async function api(id: number, path: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${brokers.get(id)!.httpPort}/api/v1/${path}`);
  expect(res.status).toBe(200);
  return res.json();
}

function clusterStatus(): any {
  const r = spawnSync(process.execPath, ["cli/main.ts", "cluster", "status", "--json", "--etcd", etcd.endpoints.join(","), "--cluster-name", clusterName], {
    cwd: `${import.meta.dir}/..`,
    encoding: "utf8",
    timeout: 20_000,
  });
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  for (const id of BROKER_IDS) {
    const args = ["--cluster-etcd", etcd.endpoints.join(","), "--broker-id", String(id), "--cluster-name", clusterName, "--cluster-lease-ttl-seconds", "2", "--workers", "1"];
    brokers.set(id, await startBroker({ args }));
  }
  await waitFor(async () => {
    for (const id of BROKER_IDS) if ((await admin(id).metadata([])).brokers.length !== BROKER_IDS.length) return false;
    return true;
  }, { ...ETCD_WAIT, what: "every broker sees both brokers" });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (shotsDir !== undefined) fs.rmSync(path.join(shotsDir, "profile"), { recursive: true, force: true });
  for (const a of admins) await a.close();
  for (const b of brokers.values()) await b.cleanup();
  await etcd?.stop();
});

describe("console API in cluster mode", () => {
  test("overview and topic page carry the cluster as etcd and the native metadata say", async () => {
    await admin(1).createTopic("console-rf2", { partitions: 3, replicationFactor: 2 });
    // Both replicas of every partition in the ISR: what a healthy cluster settles to.
    await waitFor(async () => {
      const m = await admin(2).metadata(["console-rf2"]);
      return m.topics[0]?.errorCode === 0 && m.topics[0].partitions.every((p) => p.leader >= 0 && p.isr?.length === 2);
    }, { ...ETCD_WAIT, what: "every partition led with a full ISR" });

    const status = clusterStatus();
    // The overview is sampled once a second: wait for one taken after the topic exists.
    let overview: any;
    await waitFor(async () => {
      overview = await api(2, "overview");
      return overview.cluster?.partitions.total === status.partitions.total;
    }, { ...ETCD_WAIT, what: "the overview's sample sees the topic" });
    expect(overview.broker.nodeId).toBe(2);
    expect(overview.cluster.brokers.map((b: any) => ({ id: b.nodeId, host: b.host, port: b.port, kafkaPort: b.kafkaPort, httpPort: b.httpPort, rack: b.rack }))).toEqual(
      status.brokers.map((b: any) => ({ id: b.id, host: b.host, port: b.port, kafkaPort: b.kafkaPort, httpPort: b.httpPort, rack: b.rack })),
    );
    expect(overview.cluster.brokers.map((b: any) => b.httpPort)).toEqual(BROKER_IDS.map((id) => brokers.get(id)!.httpPort));
    expect(overview.cluster.controllerId).toBe(status.controller.brokerId);
    expect(overview.cluster.controllerEpoch).toBe(status.controller.epoch);
    expect(BROKER_IDS).toContain(overview.cluster.controllerId);
    expect(overview.cluster.partitions).toEqual(status.partitions);
    expect(overview.cluster.partitions).toEqual({ total: 3, offline: 0, underReplicated: 0 });

    const native = (await admin(2).metadata(["console-rf2"])).topics[0].partitions;
    const topic = await api(2, "topics/console-rf2");
    const pick = (p: any) => ({ partition: p.partition, leader: p.leader, leaderEpoch: p.leaderEpoch, replicas: p.replicas, isr: p.isr });
    expect(topic.partitions.map(pick)).toEqual(native.map(pick));
    for (const p of topic.partitions) expect([...p.replicas].sort()).toEqual(BROKER_IDS);

    // The page, from broker 2: both brokers listed, the controller marked, nothing highlighted.
    shotsDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-console-cluster-"));
    console.log(`console screenshots: ${shotsDir}`);
    browser = await chromium.launchPersistentContext(path.join(shotsDir, "profile"), {
      executablePath: "/usr/bin/chromium",
      viewport: { width: 1280, height: 900 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const page: Page = browser.pages()[0] ?? (await browser.newPage());
    const base = `http://127.0.0.1:${brokers.get(2)!.httpPort}/`;
    await page.goto(base);
    const controller = overview.cluster.controllerId;
    await page.locator(`[data-testid=brokers-table] tr[data-broker="${controller}"] .pill`).waitFor({ timeout: 20_000 });
    expect(await page.locator("[data-testid=brokers-table] tbody tr").count()).toBe(2);
    expect(await page.locator(`[data-testid=brokers-table] tr[data-broker="${controller}"] .pill`).textContent()).toBe("controller");
    expect(await page.locator("[data-testid=stat-under-replicated]").getAttribute("class")).toBe("stat");
    await page.screenshot({ path: path.join(shotsDir, "overview-healthy.png"), fullPage: true });

    // Broker 1 gone: its partitions drop out of the ISR; the overview counts them as under-replicated.
    await brokers.get(1)!.kill9();
    await waitFor(async () => {
      overview = await api(2, "overview");
      return overview.cluster.brokers.length === 1 && overview.cluster.partitions.underReplicated === 3;
    }, { ...ETCD_WAIT, timeoutMs: 30_000, what: "broker 1 gone and every partition under-replicated" });
    expect(overview.cluster.controllerId).toBe(2);
    expect(overview.cluster.partitions.offline).toBe(0);
    const after = await api(2, "topics/console-rf2");
    for (const p of after.partitions) {
      expect(p.leader).toBe(2);
      expect(p.isr).toEqual([2]);
      expect(p.replicas.length).toBe(2);
    }

    // The page: one broker left, the under-replicated count highlighted; the topic's short ISRs highlighted.
    await page.locator("[data-testid=stat-under-replicated].stat-bad").waitFor({ timeout: 20_000 });
    expect(await page.locator("[data-testid=stat-under-replicated] .stat-value").textContent()).toBe("3");
    expect(await page.locator("[data-testid=brokers-table] tbody tr").count()).toBe(1);
    await page.screenshot({ path: path.join(shotsDir, "overview-degraded.png"), fullPage: true });
    await page.goto(`${base}#/topics/console-rf2`);
    await page.locator("[data-testid=partitions-table] td.isr-short").first().waitFor({ timeout: 20_000 });
    expect(await page.locator("[data-testid=partitions-table] td.isr-short").count()).toBe(3);
    expect(await page.locator("[data-testid=partitions-table] th").allTextContents()).toContain("ISR");
    expect((await page.locator("[data-testid=partitions-table] td.leader").allTextContents()).every((t) => t === "2")).toBe(true);
    await page.screenshot({ path: path.join(shotsDir, "topic-degraded.png"), fullPage: true });
  }, 90_000);
});
