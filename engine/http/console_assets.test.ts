// ConsoleAssets serves whichever files it was given the same way: the
// binary's prebuilt files here (in memory), the source tree's bundle in
// test/console_browser.test.ts and the binary's own in test/binary.test.ts.

import { describe, expect, test } from "bun:test";
import { gunzipSync } from "node:zlib";
import { ConsoleAssets } from "./console_assets.ts";
import type { ConsoleFiles } from "./console_bundle.ts";

const text = (s: string) => new TextEncoder().encode(s);
const FILES: ConsoleFiles = {
  page: { name: "index.html", bytes: text("<!doctype html><title>prebuilt</title>"), contentType: "text/html; charset=utf-8" },
  assets: [
    { name: "main.js", bytes: text("console.log('prebuilt bundle');".repeat(20)), contentType: "text/javascript;charset=utf-8" },
    { name: "main.css", bytes: text("body{margin:0}"), contentType: "text/css;charset=utf-8" },
  ],
};

describe("ConsoleAssets with prebuilt files", () => {
  const assets = new ConsoleAssets(FILES);

  test("the page at / and /index.html, each asset under /assets/, with the Content-Security-Policy", async () => {
    for (const p of ["/", "/index.html"]) {
      const res = (await assets.serve(p))!;
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("content-security-policy")).toStartWith("default-src 'self'");
      expect(await res.text()).toBe("<!doctype html><title>prebuilt</title>");
    }
    const js = (await assets.serve("/assets/main.js"))!;
    expect(js.headers.get("content-type")).toBe("text/javascript;charset=utf-8");
    expect(Buffer.compare(new Uint8Array(await js.arrayBuffer()), FILES.assets[0].bytes)).toBe(0);
    expect(await (await assets.serve("/assets/main.css"))!.text()).toBe("body{margin:0}");
  });

  test("gzip when the request accepts it, the same bytes once inflated", async () => {
    const res = (await assets.serve("/assets/main.js", "gzip, deflate, br"))!;
    expect(res.headers.get("content-encoding")).toBe("gzip");
    const raw = new Uint8Array(await res.arrayBuffer());
    expect(raw.length).toBeLessThan(FILES.assets[0].bytes.length);
    expect(Buffer.compare(gunzipSync(raw), FILES.assets[0].bytes)).toBe(0);
  });

  test("anything else is not the console's: the page is not an asset, unknown names and paths are null", async () => {
    expect(await assets.serve("/assets/index.html")).toBeNull();
    expect(await assets.serve("/assets/other.js")).toBeNull();
    expect(await assets.serve("/metrics")).toBeNull();
  });
});
