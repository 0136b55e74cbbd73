// The console's page and its static assets. The frontend's source lives in
// console/ (Preact + htm, uPlot); it is bundled by Bun's bundler on the first
// request for it and kept in memory for the life of the broker (a few tens of
// milliseconds; ~95 KiB, ~35 KiB gzipped), so a fresh clone serves the console after `npm ci`
// with no build step and nothing built is tracked. Everything the page loads
// comes from the broker: it works with no network.
//
//   GET /                 console/index.html
//   GET /assets/main.js   the bundle (Preact, htm, uPlot and the pages)
//   GET /assets/main.css  uPlot's stylesheet and console/style.css

import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { type BundledFile, bundleForBrowser } from "../../runtime/bundle_bun.ts";
import { ApiError } from "./api_errors.ts";

const CONSOLE_DIR = fileURLToPath(new URL("../../console/", import.meta.url));
const ENTRY = `${CONSOLE_DIR}main.ts`;
const INDEX_HTML = `${CONSOLE_DIR}index.html`;

/**
 * Nothing runs but the bundle the broker serves; a record value that holds
 * markup could not load a script even if it were ever rendered as HTML.
 * uPlot sizes its elements with inline styles.
 */
const CONTENT_SECURITY_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** A bundled file with its gzip form, compressed once when built. */
interface Asset extends BundledFile {
  readonly gzipped: Uint8Array;
}

export class ConsoleAssets {
  #files: Promise<Map<string, Asset>> | null = null;

  /** The response for `pathname`, or null when it is not one of the console's. `acceptEncoding`: the request's header. */
  async serve(pathname: string, acceptEncoding = ""): Promise<Response | null> {
    if (pathname === "/" || pathname === "/index.html") {
      const html = await fs.promises.readFile(INDEX_HTML).catch((e) => {
        throw new ApiError(503, "UNKNOWN_SERVER_ERROR", `the console's page is missing: ${(e as Error).message}`);
      });
      return respond(html, "text/html; charset=utf-8");
    }
    if (!pathname.startsWith("/assets/")) return null;
    const files = await this.#bundle();
    const file = files.get(pathname.slice("/assets/".length));
    if (file === undefined) return null;
    if (/\bgzip\b/.test(acceptEncoding)) return respond(file.gzipped, file.contentType, "gzip");
    return respond(file.bytes, file.contentType);
  }

  #bundle(): Promise<Map<string, Asset>> {
    this.#files ??= bundleForBrowser(ENTRY).then(
      (files) => new Map(files.map((f) => [f.name, { ...f, gzipped: new Uint8Array(gzipSync(f.bytes)) }])),
      (e) => {
        this.#files = null; // a later request tries again (the sources may have been fixed)
        throw new ApiError(503, "UNKNOWN_SERVER_ERROR", `the console could not be built: ${(e as Error).message}`);
      },
    );
    return this.#files;
  }
}

function respond(bytes: Uint8Array, contentType: string, encoding?: "gzip"): Response {
  const headers: Record<string, string> = {
    "content-type": contentType,
    // Built on first request from the sources: a restarted broker may serve a new bundle under the same name.
    "cache-control": "no-cache",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    vary: "accept-encoding",
  };
  if (encoding !== undefined) headers["content-encoding"] = encoding;
  return new Response(bytes, { status: 200, headers });
}
