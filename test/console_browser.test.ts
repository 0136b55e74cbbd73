// The web console in a real browser: headless Chromium (Debian's
// /usr/bin/chromium) driven by playwright-core, against a real broker
// process. Topics and messages are made with the CLI, and the page must show
// what the broker holds (as the CLI reads it back): the topic and its
// partitions, the hot partition's rate, a browsed record, a group's lag, an
// edited config; a value holding markup is shown as text and never runs.
// Screenshots of every page are saved under the test's temp dir (printed).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { type BrokerProcess, startBroker } from "./support/broker.ts";
import { sluiceOk, spawnSluice } from "./support/cli.ts";
import { waitForValue } from "./support/wait_for.ts";

const CHROMIUM = "/usr/bin/chromium";
/** A page renders and refreshes on timers, and each probe asks the browser or the CLI: a long deadline, slow polling. */
const PROBE_WAIT = { timeoutMs: 20_000, everyMs: 100 };
const TOPIC = "clicks";
/** Markup in a record value: the page must show these characters and run nothing. */
const SCRIPT_VALUE = `<script>window.__injected = 1</script><img src=x onerror="window.__injected = 2">`;

let broker: BrokerProcess;
let browser: BrowserContext;
let page: Page;
let shotsDir: string;
let addr: string;
const started: ChildProcess[] = [];

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(shotsDir, `${name}.png`), fullPage: true });
}

async function topicJson(): Promise<{ partitions: { partition: number; highWatermark: number; logStartOffset: number }[]; configs: Record<string, string> }> {
  return JSON.parse(await sluiceOk(["topics", "describe", TOPIC, "--json"], { broker: addr }));
}

async function groupJson(group: string): Promise<{ state: string; members: unknown[]; offsets: { topic: string; partition: number; committedOffset: number; lag: number }[] }> {
  return JSON.parse(await sluiceOk(["groups", "describe", group, "--json"], { broker: addr }));
}

const text = (selector: string) => page.locator(selector).first().textContent({ timeout: 2000 });

beforeAll(async () => {
  expect(fs.existsSync(CHROMIUM)).toBe(true);
  shotsDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-console-"));
  console.log(`console screenshots: ${shotsDir}`);
  broker = await startBroker({ args: ["--workers", "2"] });
  addr = `127.0.0.1:${broker.port}`;
  await sluiceOk(["topics", "create", TOPIC, "--partitions", "3"], { broker: addr });
  const lines = [`k-script|${SCRIPT_VALUE}`, `k-json|{"user":"ana","clicks":[1,2,3]}`, ...Array.from({ length: 8 }, (_, i) => `k${i}|plain value ${i}`)];
  await sluiceOk(["produce", TOPIC, "--partition", "0", "--key-separator", "|"], { broker: addr, input: `${lines.join("\n")}\n` });
  await sluiceOk(["produce", TOPIC, "--partition", "1"], { broker: addr, input: "one\ntwo\nthree\n" });
  // A group that read part of the topic and left: its lag is what it did not read.
  await sluiceOk(["consume", TOPIC, "--group", "readers", "--from", "beginning", "--max-messages", "4", "--timeout-ms", "10000"], { broker: addr });
  // A fresh profile directory (--user-data-dir), removed at the end.
  browser = await chromium.launchPersistentContext(path.join(shotsDir, "profile"), {
    executablePath: CHROMIUM,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
});

afterAll(async () => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await browser?.close();
  if (broker !== undefined) expect(await broker.stop()).toBe(0);
  fs.rmSync(path.join(shotsDir, "profile"), { recursive: true, force: true });
});

describe("web console in Chromium", () => {
  test("overview: the topic with its partitions and messages, the group with its lag, live charts", async () => {
    await page.goto(`http://127.0.0.1:${broker.httpPort}/`);
    const t = await topicJson();
    const messages = t.partitions.reduce((n, p) => n + p.highWatermark - p.logStartOffset, 0);
    expect(messages).toBe(13);
    const row = page.locator(`[data-testid=topics-table] tr[data-topic="${TOPIC}"]`);
    await waitForValue(async () => (await row.count()) === 1, { ...PROBE_WAIT, what: "the topic row" });
    const cells = await row.locator("td").allTextContents();
    expect(cells[1]).toBe("3");
    expect(cells[2]).toBe(String(messages));
    const g = await groupJson("readers");
    const lag = g.offsets.reduce((n, o) => n + Math.max(0, o.lag), 0);
    expect(lag).toBe(messages - 4);
    await waitForValue(async () => (await text(`[data-testid=groups-table] tr[data-group="readers"] td.lag`)) === String(lag), { ...PROBE_WAIT, what: "the group's lag" });
    // Two uPlot charts drew their canvas.
    expect(await page.locator(".chart canvas").count()).toBe(2);
    await shot("1-overview");
  });

  test("topic page: partitions as the broker holds them, and the hot partition first and marked while it takes the traffic", async () => {
    const hot = spawnSluice(["produce", TOPIC, "--partition", "2", "--acks", "1", "--linger-ms", "1"], addr);
    started.push(hot);
    let sent = 0;
    const feed = setInterval(() => {
      if (sent >= 50_000) return; // bounded: at most this many
      hot.stdin!.write(Array.from({ length: 50 }, (_, i) => `hot ${sent + i}`).join("\n") + "\n");
      sent += 50;
    }, 20);
    try {
      await page.goto(`http://127.0.0.1:${broker.httpPort}/#/topics/${TOPIC}`);
      await waitForValue(async () => {
        const first = page.locator("[data-testid=partitions-table] tbody tr").first();
        return (await first.getAttribute("data-partition")) === "2" && (await first.getAttribute("class")) === "hot";
      }, { ...PROBE_WAIT, what: "partition 2 first and hot" });
      const rate = Number((await text(`[data-testid=partitions-table] tr[data-partition="2"] td.rate`))!.replace(/[^\d.]/g, ""));
      expect(rate).toBeGreaterThan(0);
      expect(await text(`[data-testid=partitions-table] tr[data-partition="2"]`)).toContain("100%");
      await shot("2-topic-hot");
      // The overview shows the topic's inflow and the produce chart live.
      await page.goto(`http://127.0.0.1:${broker.httpPort}/`);
      await waitForValue(async () => {
        const cells = await page.locator(`[data-testid=topics-table] tr[data-topic="${TOPIC}"] td`).allTextContents();
        return cells.length === 6 && Number(cells[4].replace(/[^\d.]/g, "")) > 0;
      }, { ...PROBE_WAIT, what: "the topic's inflow on the overview" });
      await waitForValue(async () => Number(await page.locator("[data-testid=chart-messages]").getAttribute("data-points")) >= 5, { ...PROBE_WAIT, what: "a few seconds of chart" });
      await shot("2b-overview-live");
    } finally {
      clearInterval(feed);
      hot.stdin!.end();
    }
    await waitForValue(async () => hot.exitCode !== null, { ...PROBE_WAIT, what: "the hot producer to exit" });
    // Once the producer is gone the topic page settles on exactly what the broker holds.
    const t = await topicJson();
    await page.goto(`http://127.0.0.1:${broker.httpPort}/#/topics/${TOPIC}`);
    await waitForValue(async () => {
      for (const p of t.partitions) {
        const shown = await text(`[data-testid=partitions-table] tr[data-partition="${p.partition}"] td.hw`);
        if (shown?.replace(/,/g, "") !== String(p.highWatermark)) return false;
      }
      return true;
    }, { ...PROBE_WAIT, what: "high watermarks equal to the broker's" });
    expect(t.partitions[2].highWatermark).toBe(sent);
  });

  test("message browser: a record as stored; markup shown as text and never run; JSON pretty-printed; filter and offsets", async () => {
    await page.goto(`http://127.0.0.1:${broker.httpPort}/#/topics/${TOPIC}/messages?partition=0&from=beginning`);
    const value0 = page.locator("[data-testid=value-0] pre");
    await waitForValue(async () => (await value0.count()) === 1, { ...PROBE_WAIT, what: "record 0" });
    expect(await value0.textContent()).toBe(SCRIPT_VALUE);
    // The markup became text: no element of it exists, and nothing ran.
    expect(await page.locator("[data-testid=records-table] script, [data-testid=records-table] img").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __injected?: number }).__injected)).toBeUndefined();
    expect(await text(`[data-testid=records-table] tr[data-offset="0"] td.key pre`)).toBe("k-script");
    const json = await text("[data-testid=value-1] pre");
    expect(JSON.parse(json!)).toEqual({ user: "ana", clicks: [1, 2, 3] });
    expect(json).toContain('\n  "user": "ana"');
    expect(await page.locator("[data-testid=records-table] tbody tr").count()).toBe(10);
    await shot("3-messages");

    await page.goto(`http://127.0.0.1:${broker.httpPort}/#/topics/${TOPIC}/messages?partition=0&from=offset&offset=7&limit=2`);
    await waitForValue(async () => (await page.locator("[data-testid=records-table] tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-offset")).join(","))) === "7,8", { ...PROBE_WAIT, what: "offsets 7 and 8" });
    await page.goto(`http://127.0.0.1:${broker.httpPort}/#/topics/${TOPIC}/messages?partition=0&from=beginning&filter=VALUE%205`);
    await waitForValue(async () => (await page.locator("[data-testid=records-table] tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-offset")).join(","))) === "7", { ...PROBE_WAIT, what: "the filtered record" });
    // A bad offset: the broker's message names it.
    await page.goto(`http://127.0.0.1:${broker.httpPort}/#/topics/${TOPIC}/messages?partition=0&from=offset&offset=999`);
    await waitForValue(async () => (await text("[data-testid=browse-error]"))?.includes("offset: 999 is outside"), { ...PROBE_WAIT, what: "the offset error" });
    await shot("4-messages-bad-offset");
  });

  test("config: a bad value is refused with the message naming the field; a good one is what the broker then holds", async () => {
    await page.goto(`http://127.0.0.1:${broker.httpPort}/#/topics/${TOPIC}`);
    await page.locator("[data-testid=config-edit]").click();
    await page.locator('[data-testid=config-form] input[name="retention.ms"]').fill("soon");
    await page.locator("[data-testid=config-save]").click();
    const error = await waitForValue(async () => text("[data-testid=config-error]"), { ...PROBE_WAIT, what: "the config error" });
    expect(error).toContain("retention.ms");
    expect(error).toContain("soon");
    await shot("5-config-error");
    expect((await topicJson()).configs["retention.ms"]).toBe("604800000");
    await page.locator('[data-testid=config-form] input[name="retention.ms"]').fill("3600000");
    await page.locator("[data-testid=config-save]").click();
    await waitForValue(async () => (await text(`[data-testid=config-form] tr[data-config="retention.ms"] .config-value`)) === "3600000", { ...PROBE_WAIT, what: "the saved value" });
    expect((await topicJson()).configs["retention.ms"]).toBe("3600000");
  });

  test("group page: committed offsets and lag per partition as the broker holds them; reset refused while the group has members", async () => {
    await page.goto(`http://127.0.0.1:${broker.httpPort}/#/groups/readers`);
    const g = await groupJson("readers");
    await waitForValue(async () => {
      for (const o of g.offsets) {
        const shown = await text(`[data-testid=offsets-table] tr[data-row="${o.topic}-${o.partition}"] td.lag`);
        if (shown?.replace(/,/g, "") !== (o.lag < 0 ? "–" : String(o.lag))) return false;
      }
      return true;
    }, { ...PROBE_WAIT, what: "every partition's lag" });
    await waitForValue(async () => (await page.locator("[data-testid=chart-lag] canvas").count()) === 1, { ...PROBE_WAIT, what: "the lag chart" });
    await shot("6-group");
    // Without members a reset goes through, and the broker then holds it.
    await page.locator('[data-testid=reset-form] input[name="topic"]').fill(TOPIC);
    await page.locator('[data-testid=reset-form] select[name="to"]').selectOption("latest");
    await page.locator("[data-testid=reset-form] button[type=submit]").click();
    await waitForValue(async () => (await groupJson("readers")).offsets.every((o) => o.lag === 0), { ...PROBE_WAIT, what: "the reset to latest" });
    await waitForValue(async () => (await text("[data-testid=group-lag] .stat-value")) === "0", { ...PROBE_WAIT, what: "no lag shown" });

    const member = spawnSluice(["consume", TOPIC, "--group", "live", "--from", "end"], addr);
    started.push(member);
    await waitForValue(async () => {
      const d = await groupJson("live").catch(() => null);
      return d !== null && d.state === "Stable" && d.members.length === 1;
    }, { ...PROBE_WAIT, what: "the live group to be Stable with one member" });
    await page.goto(`http://127.0.0.1:${broker.httpPort}/#/groups/live`);
    await waitForValue(async () => (await page.locator("[data-testid=members-table] tbody tr code").count()) === 1, { ...PROBE_WAIT, what: "one member shown" });
    await page.locator('[data-testid=reset-form] input[name="topic"]').fill(TOPIC);
    await page.locator("[data-testid=reset-form] button[type=submit]").click();
    const refused = await waitForValue(async () => text("[data-testid=reset-error]"), { ...PROBE_WAIT, what: "the refusal" });
    expect(refused).toContain("members");
    await shot("7-group-reset-refused");
    member.kill("SIGTERM");
    await waitForValue(async () => member.exitCode !== null || member.signalCode !== null, { ...PROBE_WAIT, what: "the member to exit" });
  });

  test("produce from the page; the record is then in the partition", async () => {
    await page.goto(`http://127.0.0.1:${broker.httpPort}/#/topics/${TOPIC}`);
    await page.locator('[data-testid=produce-form] select[name="partition"]').selectOption("1");
    await page.locator('[data-testid=produce-form] input[name="key"]').fill("from-page");
    await page.locator('[data-testid=produce-form] textarea[name="value"]').fill("hello from the console");
    await page.locator('[data-testid=produce-form] textarea[name="headers"]').fill("source=console");
    await page.locator("[data-testid=produce-form] button[type=submit]").click();
    const result = await waitForValue(async () => text("[data-testid=produce-result]"), { ...PROBE_WAIT, what: "the produce result" });
    expect(result).toBe("stored at partition 1, offset 3");
    const out = await sluiceOk(["consume", TOPIC, "--partition", "1", "--from", "3", "--max-messages", "1", "--format", "json", "--timeout-ms", "10000"], { broker: addr });
    const rec = JSON.parse(out.trim());
    expect(rec.key).toBe("from-page");
    expect(rec.value).toBe("hello from the console");
    await shot("8-topic-produced");
  });
});
