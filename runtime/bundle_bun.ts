// Bundles a browser application with Bun's bundler (Bun.build), in memory:
// the broker builds its web console from source on the first request for it
// and serves the result from memory (engine/http/console_assets.ts). The only
// place the broker touches Bun.build.

/** One output file of a bundle. */
export interface BundledFile {
  /** The file's name in the bundle, e.g. "main.js", "main.css". */
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly contentType: string;
}

/**
 * Bundles `entry` (and everything it imports, node_modules included) for the
 * browser, minified, with no hashes in the names. Rejects with the bundler's
 * messages when the build fails.
 */
export async function bundleForBrowser(entry: string): Promise<BundledFile[]> {
  const result = await Bun.build({
    entrypoints: [entry],
    target: "browser",
    format: "esm",
    minify: true,
    naming: { entry: "[name].[ext]", chunk: "[name].[ext]", asset: "[name].[ext]" },
    throw: false,
  });
  if (!result.success) {
    const messages = result.logs.map((l) => String(l.message ?? l)).join("; ");
    throw new Error(`bundling ${entry} failed: ${messages || "no message"}`);
  }
  const files: BundledFile[] = [];
  for (const output of result.outputs) {
    const name = output.path.replace(/^.*[\\/]/, "");
    files.push({ name, bytes: new Uint8Array(await output.arrayBuffer()), contentType: output.type || "application/octet-stream" });
  }
  return files;
}
