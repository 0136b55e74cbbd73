// Kafka messages as data. Each message file (messages/*.ts) describes its
// request and response as a list of fields, each with the versions it exists
// in, the versions it may be null in and, for tagged fields, its tag. One
// interpreter here reads and writes any of them at any version, so a version
// rule lives in one table row instead of an `if (version >= n)` per codec
// (franz-go's generate/definitions and Kafka's own message JSON work the same
// way). The TypeScript value types are inferred from the same tables.
//
// Flexible versions (KIP-482) change every field's encoding at once: strings,
// bytes and arrays take compact (uvarint length + 1) forms and every struct
// ends with a tagged-field section. A field absent from a version decodes as
// its default and is not written.

import { KafkaDecodeError, KafkaDecodeReason } from "./decode_error.ts";
import type { KafkaReader } from "./reader.ts";
import { type KafkaApiKey, kafkaApiOf } from "./versions.ts";
import { KafkaWriter } from "./writer.ts";

export type PrimitiveType =
  | "bool"
  | "int8"
  | "int16"
  | "uint16"
  | "int32"
  | "int64"
  | "float64"
  | "string"
  | "bytes"
  | "records"
  | "uuid";

/** A version range: [min, max] inclusive; max is Infinity for "n+". */
export type VersionRange = readonly [number, number];

/** "0+", "3-7", "5", "none". */
export function versions(spec: string): VersionRange {
  if (spec === "none") return [1, 0];
  const plus = /^(\d+)\+$/.exec(spec);
  if (plus) return [Number(plus[1]), Number.POSITIVE_INFINITY];
  const range = /^(\d+)-(\d+)$/.exec(spec);
  if (range) return [Number(range[1]), Number(range[2])];
  if (/^\d+$/.test(spec)) return [Number(spec), Number(spec)];
  throw new Error(`schema: bad version range ${spec}`);
}

export function inRange(r: VersionRange, v: number): boolean {
  return v >= r[0] && v <= r[1];
}

interface FieldOptions {
  /** Versions in which the field may be null (strings, bytes, arrays). */
  readonly nullable?: string;
  /** Tag number, for a field carried in the tagged-field section. */
  readonly tag?: number;
  /** Versions in which the field is tagged (defaults to all its versions when `tag` is set). */
  readonly tagged?: string;
  /** Value when the field is absent (from the version, or an omitted tagged field). */
  readonly default?: unknown;
}

interface FieldBase<N extends string> {
  readonly name: N;
  readonly versions: VersionRange;
  readonly nullable: VersionRange | null;
  readonly tag: number | null;
  readonly tagged: VersionRange | null;
  readonly default: unknown;
}

export interface PrimitiveField<N extends string, T extends PrimitiveType, Nl extends boolean> extends FieldBase<N> {
  readonly kind: "primitive";
  readonly type: T;
  readonly isNullable: Nl;
}

export interface PrimitiveArrayField<N extends string, T extends PrimitiveType, Nl extends boolean> extends FieldBase<N> {
  readonly kind: "primitiveArray";
  readonly type: T;
  readonly isNullable: Nl;
}

export interface StructArrayField<N extends string, F extends readonly Field[], Nl extends boolean> extends FieldBase<N> {
  readonly kind: "structArray";
  readonly fields: F;
  readonly isNullable: Nl;
}

export interface StructField<N extends string, F extends readonly Field[], Nl extends boolean> extends FieldBase<N> {
  readonly kind: "struct";
  readonly fields: F;
  readonly isNullable: Nl;
}

export type Field =
  | PrimitiveField<string, PrimitiveType, boolean>
  | PrimitiveArrayField<string, PrimitiveType, boolean>
  | StructArrayField<string, readonly Field[], boolean>
  | StructField<string, readonly Field[], boolean>;

type IsNullable<O> = O extends { nullable: string } ? true : false;

function base<N extends string>(name: N, v: string, opts: FieldOptions | undefined): FieldBase<N> {
  const tag = opts?.tag ?? null;
  return {
    name,
    versions: versions(v),
    nullable: opts?.nullable === undefined ? null : versions(opts.nullable),
    tag,
    tagged: tag === null ? null : versions(opts?.tagged ?? v),
    default: opts?.default,
  };
}

/** A field of a primitive type. */
export function field<const N extends string, const T extends PrimitiveType, const O extends FieldOptions = {}>(
  name: N,
  type: T,
  v: string,
  opts?: O,
): PrimitiveField<N, T, IsNullable<O>> {
  return { ...base(name, v, opts), kind: "primitive", type, isNullable: (opts?.nullable !== undefined) as IsNullable<O> };
}

/** An array of a primitive type. */
export function arrayOf<const N extends string, const T extends PrimitiveType, const O extends FieldOptions = {}>(
  name: N,
  type: T,
  v: string,
  opts?: O,
): PrimitiveArrayField<N, T, IsNullable<O>> {
  return { ...base(name, v, opts), kind: "primitiveArray", type, isNullable: (opts?.nullable !== undefined) as IsNullable<O> };
}

/** An array of structs. */
export function array<const N extends string, const F extends readonly Field[], const O extends FieldOptions = {}>(
  name: N,
  v: string,
  fields: F,
  opts?: O,
): StructArrayField<N, F, IsNullable<O>> {
  return { ...base(name, v, opts), kind: "structArray", fields, isNullable: (opts?.nullable !== undefined) as IsNullable<O> };
}

/** A nested struct (not an array). */
export function struct<const N extends string, const F extends readonly Field[], const O extends FieldOptions = {}>(
  name: N,
  v: string,
  fields: F,
  opts?: O,
): StructField<N, F, IsNullable<O>> {
  return { ...base(name, v, opts), kind: "struct", fields, isNullable: (opts?.nullable !== undefined) as IsNullable<O> };
}

// ---- Value types inferred from the tables ----

type PrimitiveValue<T> = T extends "bool"
  ? boolean
  : T extends "int64"
    ? bigint
    : T extends "string"
      ? string
      : T extends "bytes" | "records" | "uuid"
        ? Uint8Array
        : number;

/** Encoders take an INT64 as a bigint or, for the broker's offsets and timestamps (below 2^53), a number. */
type PrimitiveInput<T> = T extends "int64" ? bigint | number : PrimitiveValue<T>;

type OrNull<V, Nl> = Nl extends true ? V | null : V;

type FieldValue<F> =
  F extends PrimitiveField<string, infer T, infer Nl>
    ? OrNull<PrimitiveValue<T>, Nl>
    : F extends PrimitiveArrayField<string, infer T, infer Nl>
      ? OrNull<PrimitiveValue<T>[], Nl>
      : F extends StructArrayField<string, infer Fs, infer Nl>
        ? OrNull<Decoded<Fs>[], Nl>
        : F extends StructField<string, infer Fs, infer Nl>
          ? OrNull<Decoded<Fs>, Nl>
          : never;

type FieldInput<F> =
  F extends PrimitiveField<string, infer T, infer Nl>
    ? OrNull<PrimitiveInput<T>, Nl>
    : F extends PrimitiveArrayField<string, infer T, infer Nl>
      ? OrNull<readonly PrimitiveInput<T>[], Nl>
      : F extends StructArrayField<string, infer Fs, infer Nl>
        ? OrNull<readonly Input<Fs>[], Nl>
        : F extends StructField<string, infer Fs, infer Nl>
          ? OrNull<Input<Fs>, Nl>
          : never;

/** What decoding a struct yields: every field, defaults where the version lacks it. */
export type Decoded<Fs extends readonly Field[]> = { -readonly [F in Fs[number] as F["name"]]: FieldValue<F> };

/** What encoding a struct takes: any field may be left out (its default is written). */
export type Input<Fs extends readonly Field[]> = { readonly [F in Fs[number] as F["name"]]?: FieldInput<F> };

// ---- Defaults ----

const EMPTY_BYTES = new Uint8Array(0);
const ZERO_UUID = new Uint8Array(16);

function primitiveDefault(type: PrimitiveType): unknown {
  switch (type) {
    case "bool":
      return false;
    case "int64":
      return 0n;
    case "string":
      return "";
    case "bytes":
    case "records":
      return EMPTY_BYTES;
    case "uuid":
      return ZERO_UUID;
    default:
      return 0;
  }
}

/** The value a field decodes as when its version lacks it (Kafka's default, else the type's zero). */
export function defaultOf(f: Field): unknown {
  if (f.default !== undefined) return f.default;
  switch (f.kind) {
    case "primitive":
      // A nullable bytes/records field that is absent reads as null, as Kafka's generated code does.
      if (f.isNullable && (f.type === "records" || f.type === "bytes")) return null;
      return primitiveDefault(f.type);
    case "primitiveArray":
    case "structArray":
      return [];
    case "struct":
      return f.isNullable ? null : defaultStruct(f.fields);
  }
}

function defaultStruct(fields: readonly Field[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f.name] = defaultOf(f);
  return out;
}

// ---- Decoding ----

function readPrimitive(r: KafkaReader, type: PrimitiveType, name: string, flexible: boolean, nullable: boolean): unknown {
  switch (type) {
    case "bool":
      return r.bool(name);
    case "int8":
      return r.int8(name);
    case "int16":
      return r.int16(name);
    case "uint16":
      return r.uint16(name);
    case "int32":
      return r.int32(name);
    case "int64":
      return r.int64(name);
    case "float64":
      return r.float64(name);
    case "uuid":
      return r.uuid(name);
    case "string":
      if (flexible) return nullable ? r.compactNullableString(name) : r.compactString(name);
      return nullable ? r.nullableString(name) : r.string(name);
    case "bytes":
    case "records":
      if (flexible) return nullable ? r.compactNullableBytes(name) : r.compactBytes(name);
      return nullable ? r.nullableBytes(name) : r.bytesField(name);
  }
}

/** Smallest encoding of one entry, to refuse an array count the bytes left cannot hold. */
function primitiveBytesMin(type: PrimitiveType): number {
  switch (type) {
    case "int16":
    case "uint16":
      return 2;
    case "int32":
      return 4;
    case "int64":
    case "float64":
      return 8;
    case "uuid":
      return 16;
    default:
      return 1;
  }
}

function readValue(r: KafkaReader, f: Field, version: number, flexible: boolean): unknown {
  const nullable = f.nullable !== null && inRange(f.nullable, version);
  switch (f.kind) {
    case "primitive":
      return readPrimitive(r, f.type, f.name, flexible, nullable);
    case "primitiveArray": {
      const n = flexible
        ? r.compactArrayLength(f.name, nullable, primitiveBytesMin(f.type))
        : r.arrayLength(f.name, nullable, primitiveBytesMin(f.type));
      if (n < 0) return null;
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(readPrimitive(r, f.type, f.name, flexible, false));
      return out;
    }
    case "structArray": {
      const n = flexible ? r.compactArrayLength(f.name, nullable) : r.arrayLength(f.name, nullable);
      if (n < 0) return null;
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(decodeStruct(r, f.fields, version, flexible));
      return out;
    }
    case "struct":
      if (nullable) {
        // A nullable struct is preceded by an int8: -1 null, 1 present.
        if (r.int8(f.name) < 0) return null;
      }
      return decodeStruct(r, f.fields, version, flexible);
  }
}

/** Reads one struct (a message body is the outermost one) at `version`. */
export function decodeStruct(r: KafkaReader, fields: readonly Field[], version: number, flexible: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let tagged: Field[] | null = null;
  for (const f of fields) {
    if (!inRange(f.versions, version)) {
      out[f.name] = defaultOf(f);
      continue;
    }
    if (flexible && f.tagged !== null && inRange(f.tagged, version)) {
      out[f.name] = defaultOf(f);
      (tagged ??= []).push(f);
      continue;
    }
    out[f.name] = readValue(r, f, version, flexible);
  }
  if (flexible) {
    if (tagged === null) r.taggedFields("_tagged_fields");
    else {
      const known = tagged;
      r.taggedFields("_tagged_fields", (tag, sub) => {
        const f = known.find((k) => k.tag === tag);
        if (f !== undefined) out[f.name] = readValue(sub, f, version, true);
      });
    }
  }
  return out;
}

// ---- Encoding ----

function writePrimitive(w: KafkaWriter, type: PrimitiveType, v: unknown, flexible: boolean, nullable: boolean, name: string): void {
  if (v === null || v === undefined) {
    if (!nullable && v === null) throw new TypeError(`${name} may not be null at this version`);
  }
  switch (type) {
    case "bool":
      w.bool(Boolean(v));
      return;
    case "int8":
      w.int8(v as number);
      return;
    case "int16":
    case "uint16":
      w.int16(v as number);
      return;
    case "int32":
      w.int32(v as number);
      return;
    case "int64":
      w.int64(v as bigint | number);
      return;
    case "float64":
      w.float64(v as number);
      return;
    case "uuid":
      w.uuid(v as Uint8Array);
      return;
    case "string":
      if (flexible) {
        if (nullable) w.compactNullableString(v as string | null);
        else w.compactString(v as string);
      } else if (nullable) w.nullableString(v as string | null);
      else w.string(v as string);
      return;
    case "bytes":
    case "records":
      if (flexible) {
        if (nullable) w.compactNullableBytes(v as Uint8Array | null);
        else w.compactBytes(v as Uint8Array);
      } else if (nullable) w.nullableBytes(v as Uint8Array | null);
      else w.bytesField(v as Uint8Array);
      return;
  }
}

function writeValue(w: KafkaWriter, f: Field, v: unknown, version: number, flexible: boolean): void {
  const nullable = f.nullable !== null && inRange(f.nullable, version);
  if (v === undefined) v = defaultOf(f);
  if (v === null && !nullable) {
    // A null where this version has no null: write the empty value, as an older version would show it.
    if (f.kind !== "primitive" || f.type === "string" || f.type === "bytes" || f.type === "records") {
      v = f.kind === "primitive" ? primitiveDefault(f.type) : f.kind === "struct" ? {} : [];
    }
  }
  switch (f.kind) {
    case "primitive":
      writePrimitive(w, f.type, v, flexible, nullable, f.name);
      return;
    case "primitiveArray":
    case "structArray": {
      if (v === null) {
        if (flexible) w.compactArrayLength(-1);
        else w.arrayLength(-1);
        return;
      }
      const a = v as readonly unknown[];
      if (flexible) w.compactArrayLength(a.length);
      else w.arrayLength(a.length);
      if (f.kind === "primitiveArray") for (const e of a) writePrimitive(w, f.type, e, flexible, false, f.name);
      else for (const e of a) encodeStruct(w, f.fields, version, flexible, e as Record<string, unknown>);
      return;
    }
    case "struct":
      if (nullable) {
        if (v === null) {
          w.int8(-1);
          return;
        }
        w.int8(1);
      }
      encodeStruct(w, f.fields, version, flexible, v as Record<string, unknown>);
      return;
  }
}

/** Scratch writer for tagged values, whose size must precede them. */
let taggedScratch: KafkaWriter | null = null;

function isDefault(f: Field, v: unknown): boolean {
  if (v === undefined) return true;
  const d = defaultOf(f);
  if (v === d) return true;
  if (Array.isArray(v) && v.length === 0 && Array.isArray(d)) return true;
  return false;
}

/** Writes one struct at `version`. Fields the version lacks are skipped; missing values take their defaults. */
export function encodeStruct(
  w: KafkaWriter,
  fields: readonly Field[],
  version: number,
  flexible: boolean,
  value: Record<string, unknown>,
): void {
  let tagged: Field[] | null = null;
  for (const f of fields) {
    if (!inRange(f.versions, version)) continue;
    if (flexible && f.tagged !== null && inRange(f.tagged, version)) {
      if (!isDefault(f, value[f.name])) (tagged ??= []).push(f);
      continue;
    }
    writeValue(w, f, value[f.name], version, flexible);
  }
  if (!flexible) return;
  if (tagged === null) {
    w.emptyTaggedFields();
    return;
  }
  tagged.sort((a, b) => (a.tag as number) - (b.tag as number));
  w.uvarint(tagged.length);
  for (const f of tagged) {
    const scratch = (taggedScratch ??= new KafkaWriter({ initialBytes: 256 }));
    taggedScratch = null; // a tagged struct may itself hold tagged fields
    scratch.reset();
    writeValue(scratch, f, value[f.name], version, true);
    const bytes = scratch.finish();
    w.uvarint(f.tag as number).uvarint(bytes.length).raw(bytes);
    taggedScratch = scratch;
  }
}

// ---- Messages ----

export interface MessageSpec<Fs extends readonly Field[]> {
  readonly name: string;
  readonly apiKey: number;
  /** Versions this codec reads and writes. */
  readonly validVersions: VersionRange;
  /** First version with the flexible encoding (Infinity when none). */
  readonly firstFlexibleVersion: number;
  readonly fields: Fs;
}

/** A message of api `apiKey`; its versions and flexible threshold come from the table in versions.ts. */
export function message<const Fs extends readonly Field[]>(name: string, apiKey: KafkaApiKey, fields: Fs): MessageSpec<Fs> {
  const api = kafkaApiOf(apiKey);
  return { name, apiKey, validVersions: [api.minVersion, api.maxVersion], firstFlexibleVersion: api.firstFlexibleVersion, fields };
}

/** Throws UNSUPPORTED_VERSION when `version` is outside the message's range. */
export function checkVersion(spec: MessageSpec<readonly Field[]>, version: number): void {
  if (!inRange(spec.validVersions, version)) {
    throw new KafkaDecodeError(
      KafkaDecodeReason.UNSUPPORTED_VERSION,
      spec.name,
      `version ${version} is outside ${spec.validVersions[0]}..${spec.validVersions[1]}`,
    );
  }
}

/** Decodes a whole message body at `version`; bytes left over are an error. */
export function decodeMessage<Fs extends readonly Field[]>(spec: MessageSpec<Fs>, r: KafkaReader, version: number): Decoded<Fs> {
  checkVersion(spec, version);
  const v = decodeStruct(r, spec.fields, version, version >= spec.firstFlexibleVersion);
  r.expectEnd(spec.name);
  return v as Decoded<Fs>;
}

/** Encodes a message body at `version` (after whatever header the caller wrote). */
export function encodeMessage<Fs extends readonly Field[]>(spec: MessageSpec<Fs>, w: KafkaWriter, version: number, value: Input<Fs>): void {
  if (!inRange(spec.validVersions, version)) {
    throw new RangeError(`${spec.name}: version ${version} is outside ${spec.validVersions[0]}..${spec.validVersions[1]}`);
  }
  encodeStruct(w, spec.fields, version, version >= spec.firstFlexibleVersion, value as Record<string, unknown>);
}
