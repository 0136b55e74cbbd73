// snappyjs ships no types; the two functions we call.
declare module "snappyjs" {
  const snappy: {
    compress(uncompressed: Uint8Array): Uint8Array;
    /** Throws when the stream is invalid or says it inflates past `maxLength`. */
    uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  };
  export default snappy;
}
