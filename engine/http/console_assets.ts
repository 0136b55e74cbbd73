// The console's page and its static assets. The frontend's source lives in
// console/ (Preact + htm, uPlot). Run from the source tree, the broker bundles
// it with Bun's bundler on the first request for it (a few tens of
// milliseconds; ~95 KiB, ~35 KiB gzipped), so a fresh clone serves the console
// after `npm ci` with no build step and nothing built is tracked. The
// single-file binary carries the same files, bundled when it was built
// (console_prebuilt.ts). Either way they are kept in memory for the life of
// the broker and served from here. Everything the page loads comes from the
// broker: it works with no network.
//
//   GET /                 console/index.html
//   GET /assets/main.js   the bundle (Preact, htm, uPlot and the pages)
//   GET /assets/main.css  uPlot's stylesheet and console/style.css

import { gzipSync } from "node:zlib";
import type { BundledFile } from "../../runtime/bundle_bun.ts";
import { ApiError } from "./api_errors.ts";
import { bundleConsole, type ConsoleFiles } from "./console_bundle.ts";
import { PREBUILT_CONSOLE } from "./console_prebuilt.ts";

/**
 * Nothing runs but the bundle the broker serves; a record value that holds
 * markup could not load a script even if it were ever rendered as HTML.
 * uPlot sizes its elements with inline styles.
 */
const CONTENT_SECURITY_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** A file with its gzip form, compressed once when loaded. */
interface Asset extends BundledFile {
  readonly gzipped: Uint8Array;
}

interface LoadedFiles {
  readonly page: Asset;
  /** By name under /assets/. */
  readonly assets: Map<string, Asset>;
}

export class ConsoleAssets {
  readonly #prebuilt: ConsoleFiles | null;
  #files: Promise<LoadedFiles> | null = null;

  /** `prebuilt`: the files bundled ahead of time (the binary's), or null to bundle console/ on first request. */
  constructor(prebuilt: ConsoleFiles | null = PREBUILT_CONSOLE) {
    this.#prebuilt = prebuilt;
  }

  /** The response for `pathname`, or null when it is not one of the console's. `acceptEncoding`: the request's header. */
  async serve(pathname: string, acceptEncoding = ""): Promise<Response | null> {
    const isPage = pathname === "/" || pathname === "/index.html";
    if (!isPage && !pathname.startsWith("/assets/")) return null;
    const files = await this.#load();
    const file = isPage ? files.page : files.assets.get(pathname.slice("/assets/".length));
    if (file === undefined) return null;
    if (/\bgzip\b/.test(acceptEncoding)) return respond(file.gzipped, file.contentType, "gzip");
    return respond(file.bytes, file.contentType);
  }

  #load(): Promise<LoadedFiles> {
    this.#files ??= (this.#prebuilt !== null ? Promise.resolve(this.#prebuilt) : bundleConsole()).then(
      (f) => ({ page: withGzip(f.page), assets: new Map(f.assets.map((a) => [a.name, withGzip(a)])) }),
      (e) => {
        this.#files = null; // a later request tries again (the sources may have been fixed)
        throw new ApiError(503, "UNKNOWN_SERVER_ERROR", `the console could not be built: ${(e as Error).message}`);
      },
    );
    return this.#files;
  }
}

function withGzip(file: BundledFile): Asset {
  return { ...file, gzipped: new Uint8Array(gzipSync(file.bytes)) };
}

function respond(bytes: Uint8Array, contentType: string, encoding?: "gzip"): Response {
  const headers: Record<string, string> = {
    "content-type": contentType,
    // A broker run from the sources bundles them when it starts serving: a restarted one may serve a new bundle under the same name.
    "cache-control": "no-cache",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    vary: "accept-encoding",
  };
  if (encoding !== undefined) headers["content-encoding"] = encoding;
  return new Response(bytes, { status: 200, headers });
}
