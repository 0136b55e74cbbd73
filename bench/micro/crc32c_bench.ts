// CRC-32C throughput: every produced batch is checked once by the broker and
// once by the consumer, so this bounds bytes/s per core on both paths.

import type { Bench } from "tinybench";
import { crc32c } from "../../protocol/crc32c.ts";
import type { MicroOptions } from "./run.ts";

export function register(bench: Bench, opts: MicroOptions): void {
  const sizes = opts.small ? [100, 4096] : [100, 4096, 64 * 1024, 1024 * 1024];
  for (const size of sizes) {
    const data = new Uint8Array(size).map((_, i) => (i * 2654435761) >>> 24);
    const label = size >= 1024 * 1024 ? `${size / (1024 * 1024)} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    const name = `crc32c ${label}`;
    bench.add(name, () => crc32c(data));
    opts.bytesPerOp(name, size);
  }
}
