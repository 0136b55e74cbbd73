// Sample values for any message spec at any version, and the value decoding
// them must give back: used to round-trip every codec at every version.

import { defaultOf, type Field, inRange, type PrimitiveType } from "../schema.ts";

/** Large enough that the writer splices it in as its own segment instead of copying it. */
export const SAMPLE_RECORDS_BYTES = 600;

function primitiveSample(type: PrimitiveType, seed: number): unknown {
  switch (type) {
    case "bool":
      return true;
    case "int8":
      return (seed % 100) + 1;
    case "int16":
      return 1000 + (seed % 30_000);
    case "uint16":
      return 60000 + (seed % 5000);
    case "int32":
      return 100_000 + (seed % 1_000_000_000);
    case "int64":
      return 2n ** 40n + BigInt(seed);
    case "float64":
      return seed + 0.5;
    case "uuid":
      return new Uint8Array(16).fill(seed & 0xff);
    case "string":
      return `s${seed}-é`;
    case "bytes":
      return new Uint8Array([seed & 0xff, 1, 2]);
    case "records":
      return new Uint8Array(SAMPLE_RECORDS_BYTES).fill(seed & 0xff);
  }
}

/**
 * A value with every field of `version` set to something other than its
 * default; with `nulls`, every field nullable at `version` is null instead.
 */
export function sampleStruct(fields: readonly Field[], version: number, seed: number, nulls: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    seed++;
    if (!inRange(f.versions, version)) continue;
    if (nulls && f.nullable !== null && inRange(f.nullable, version)) {
      out[f.name] = null;
      continue;
    }
    switch (f.kind) {
      case "primitive":
        out[f.name] = primitiveSample(f.type, seed);
        break;
      case "primitiveArray":
        out[f.name] = [primitiveSample(f.type, seed), primitiveSample(f.type, seed + 1)];
        break;
      case "structArray":
        out[f.name] = [sampleStruct(f.fields, version, seed * 7, nulls), sampleStruct(f.fields, version, seed * 11, nulls)];
        break;
      case "struct":
        out[f.name] = sampleStruct(f.fields, version, seed * 13, nulls);
        break;
    }
  }
  return out;
}

/** What decoding `value` written at `version` yields: its fields of that version, defaults for the rest. */
export function expectedDecode(fields: readonly Field[], value: Record<string, unknown>, version: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = value[f.name];
    if (!inRange(f.versions, version) || v === undefined) {
      out[f.name] = defaultOf(f);
      continue;
    }
    if (v === null) out[f.name] = null;
    else if (f.kind === "structArray") {
      out[f.name] = (v as Record<string, unknown>[]).map((e) => expectedDecode(f.fields, e, version));
    } else if (f.kind === "struct") out[f.name] = expectedDecode(f.fields, v as Record<string, unknown>, version);
    else out[f.name] = v;
  }
  return out;
}
