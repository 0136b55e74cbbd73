// Bun's bundler (Bun.build), the only place the tree touches it: bundling a
// browser application in memory (the web console, engine/http/console_bundle.ts:
// by a broker run from source on the first request for the page, or at build
// time) and compiling the single-file binary (scripts/build_binary.ts).

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

export interface CompileOptions {
  /** The program's entry first, then every file run as a worker thread (they keep their path from the common root). */
  readonly entrypoints: readonly string[];
  readonly outfile: string;
  /** Absolute path → module text used in the binary instead of that file's text on disk. */
  readonly replacedModules?: Readonly<Record<string, string>>;
}

/** Compiles a standalone executable (`bun build --compile`). Rejects with the bundler's messages when it fails. */
export async function compileExecutable(options: CompileOptions): Promise<void> {
  const result = await Bun.build({
    entrypoints: [...options.entrypoints],
    target: "bun",
    compile: { outfile: options.outfile },
    files: { ...options.replacedModules },
    throw: false,
  });
  if (!result.success) {
    const messages = result.logs.map((l) => String(l.message ?? l)).join("; ");
    throw new Error(`compiling ${options.outfile} failed: ${messages || "no message"}`);
  }
}
