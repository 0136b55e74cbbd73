// A decompressor's output: grows by doubling, never past `limit` bytes. Past it
// the caller's tooLarge error is thrown, so a hostile stream (a "bomb") costs
// at most `limit` bytes of memory, whatever it claims or repeats.

export class BoundedOutput {
  buf: Uint8Array;
  length = 0;

  constructor(
    initialBytes: number,
    readonly limit: number,
    private readonly onTooLarge: () => Error,
  ) {
    this.buf = new Uint8Array(Math.max(16, Math.min(initialBytes, limit)));
  }

  /** Makes room for `n` more bytes (throws the caller's error past the limit). */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    if (need > this.limit) throw this.onTooLarge();
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(Math.min(size, this.limit));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  append(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** The bytes written (a view: the buffer is not reused). */
  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}
