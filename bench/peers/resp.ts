// The few bits of RESP (the Redis protocol) the peer benchmark needs: encode a
// command, and an incremental reply parser that is fed whatever bytes the
// socket delivers (a reply may be split anywhere) and calls back once per
// complete top-level reply.

export type RespValue = string | number | null | RespError | RespValue[];

export class RespError {
  constructor(readonly message: string) {}
}

const CR = 13;
const LF = 10;

/** `*N\r\n$len\r\narg\r\n...` for string or byte arguments. */
export function encodeCommand(args: (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? Buffer.from(arg, "utf8") : Buffer.from(arg);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** Sentinel for "the reply is not complete yet". */
const INCOMPLETE = Symbol("incomplete");

export class RespParser {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly onReply: (value: RespValue) => void;
  /** Bulk strings are decoded as text only when asked; the hot path only needs to count them. */
  private readonly decodeBulk: boolean;

  constructor(options: { onReply: (value: RespValue) => void; decodeBulk?: boolean }) {
    this.onReply = options.onReply;
    this.decodeBulk = options.decodeBulk ?? true;
  }

  push(chunk: Uint8Array): void {
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.buffer, chunk]);
    let pos = 0;
    for (;;) {
      const parsed = this.parse(pos);
      if (parsed === INCOMPLETE) break;
      pos = parsed.end;
      this.onReply(parsed.value);
    }
    // Keep only the unparsed tail (copied, so the socket's chunk can be reused).
    this.buffer = pos === this.buffer.length ? Buffer.alloc(0) : Buffer.from(this.buffer.subarray(pos));
  }

  private parse(pos: number): { value: RespValue; end: number } | typeof INCOMPLETE {
    const b = this.buffer;
    if (pos >= b.length) return INCOMPLETE;
    const lineEnd = b.indexOf(CR, pos);
    if (lineEnd < 0 || lineEnd + 1 >= b.length) return INCOMPLETE;
    if (b[lineEnd + 1] !== LF) throw new Error("resp: CR without LF");
    const type = b[pos];
    const after = lineEnd + 2;
    switch (type) {
      case 0x2b: // '+'
        return { value: b.toString("latin1", pos + 1, lineEnd), end: after };
      case 0x2d: // '-'
        return { value: new RespError(b.toString("utf8", pos + 1, lineEnd)), end: after };
      case 0x3a: // ':'
        return { value: Number(b.toString("latin1", pos + 1, lineEnd)), end: after };
      case 0x24: { // '$'
        const length = Number(b.toString("latin1", pos + 1, lineEnd));
        if (length < 0) return { value: null, end: after };
        if (after + length + 2 > b.length) return INCOMPLETE;
        return { value: this.decodeBulk ? b.toString("utf8", after, after + length) : "", end: after + length + 2 };
      }
      case 0x2a: { // '*'
        const count = Number(b.toString("latin1", pos + 1, lineEnd));
        if (count < 0) return { value: null, end: after };
        const items: RespValue[] = [];
        let at = after;
        for (let i = 0; i < count; i++) {
          const item = this.parse(at);
          if (item === INCOMPLETE) return INCOMPLETE;
          items.push(item.value);
          at = item.end;
        }
        return { value: items, end: at };
      }
      default:
        throw new Error(`resp: unexpected reply type byte ${type}`);
    }
  }
}
