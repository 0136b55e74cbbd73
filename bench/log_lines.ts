// A realistic log-line payload for compression figures: service logs as JSON
// and plain text lines, with timestamps, levels, request ids, paths, status
// codes and latencies drawn from a seeded generator, so every run (and the
// tests) see the same bytes. Real logs compress 5-10x with gzip; random
// bytes would not compress at all and a repeated pattern would compress
// absurdly well, so neither says what a codec does for a log pipeline.

const LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];
const SERVICES = ["api-gateway", "orders", "payments", "inventory", "auth", "search"];
const PATHS = ["/v1/orders", "/v1/orders/{id}", "/v1/payments", "/v1/cart", "/v1/login", "/v1/search?q=", "/healthz"];
const METHODS = ["GET", "GET", "POST", "PUT", "DELETE"];
const STATUSES = [200, 200, 200, 201, 204, 304, 400, 404, 500, 503];
const MESSAGES = [
  "request completed",
  "cache miss, loading from database",
  "retrying upstream call after timeout",
  "user session refreshed",
  "rate limit applied to client",
  "slow query detected",
];

/** A small, fast, seeded PRNG (mulberry32): the same lines on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` log lines (no trailing newline), about 150-250 bytes each. */
export function logLines(count: number, seed = 1): string[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join("");
  let t = Date.UTC(2026, 11, 6, 15, 0, 0);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    t += Math.floor(rnd() * 40);
    const ts = new Date(t).toISOString();
    const path = pick(PATHS).replace("{id}", String(100000 + Math.floor(rnd() * 900000)));
    if (rnd() < 0.5) {
      out.push(
        JSON.stringify({
          ts,
          level: pick(LEVELS),
          service: pick(SERVICES),
          trace_id: hex(32),
          method: pick(METHODS),
          path,
          status: pick(STATUSES),
          duration_ms: Math.round(rnd() * 25000) / 100,
          msg: pick(MESSAGES),
        }),
      );
    } else {
      out.push(
        `${ts} ${pick(LEVELS).padEnd(5)} [${pick(SERVICES)}] req=${hex(16)} ${pick(METHODS)} ${path} ` +
          `status=${pick(STATUSES)} dur=${(rnd() * 250).toFixed(2)}ms client=10.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)} ${pick(MESSAGES)}`,
      );
    }
  }
  return out;
}
