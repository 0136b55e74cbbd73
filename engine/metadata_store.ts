// Durable topic metadata: `<dataDir>/meta/topics.json`.
//
// Durability contract: `write(next)` resolves only after the new file is
// complete on disk under its final name: it is written to a temp file,
// fdatasync'ed, renamed over the old one, and the directory is fsync'ed so the
// rename itself survives a power loss. A crash at any point leaves either the
// old or the new file, never a mix. Callers serialize writes (the engine runs
// admin operations one at a time).
//
// The file stores, per topic: an id (to tell a re-created topic from the old
// one), its configs (only the ones set for it, not the defaults), and the worker
// of each partition — which is what keeps the partition→worker map stable
// across restarts; and a CRC-32C of all that, checked at load.

import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { crc32c } from "../protocol/crc32c.ts";
import { PARTITIONS_PER_TOPIC_MAX } from "../protocol/limits.ts";
import { topicNameProblem } from "../protocol/topic_name.ts";

const TopicEntrySchema = z.object({
  id: z.string().min(1),
  createdAtMs: z.number().int().min(0),
  configs: z.record(z.string(), z.string()),
  /** workers[p] is the worker thread that owns partition p; the length is the partition count. -1 (NOT_HOSTED, cluster mode): another broker's partition. */
  workers: z.array(z.number().int().min(-1)).min(1).max(PARTITIONS_PER_TOPIC_MAX),
});

const TopicsSchema = z.record(z.string(), TopicEntrySchema);

/** On disk: version 2 carries a CRC-32C of the topics (version 1, written before it, is read once and rewritten). */
const FileSchema = z.union([
  z.object({ version: z.literal(2), crc32c: z.number().int().min(0).max(0xffff_ffff), topics: TopicsSchema }).strict(),
  z.object({ version: z.literal(1), topics: TopicsSchema }).strict(),
]);

export type TopicEntry = z.output<typeof TopicEntrySchema>;
/** The metadata as the engine sees it. */
export interface TopicsFile {
  version: 1;
  topics: Record<string, TopicEntry>;
}

/**
 * The checksum covers the topics as compact JSON. JSON.parse then
 * JSON.stringify gives back the same text (key order is kept), so the reader
 * can recompute it from what it parsed. Why a checksum at all: a flipped bit
 * inside a topic name still parses, and a wrong name would make the real
 * topic's directory look like an orphan.
 */
function topicsChecksum(topics: Record<string, TopicEntry>): number {
  return crc32c(new TextEncoder().encode(JSON.stringify(topics)));
}

const FILE_NAME = "topics.json";
const TEMP_NAME = "topics.json.tmp";

export class MetadataStore {
  readonly dir: string;
  readonly file: string;
  #current: TopicsFile;

  private constructor(dir: string, current: TopicsFile) {
    this.dir = dir;
    this.file = path.join(dir, FILE_NAME);
    this.#current = current;
  }

  /**
   * Loads `<dataDir>/meta/topics.json` (an empty set when absent). A damaged
   * file (not JSON, wrong shape, checksum mismatch) is an error naming the
   * file: the broker refuses to start rather than guess which topics exist.
   */
  static async open(dataDir: string): Promise<MetadataStore> {
    const dir = path.join(dataDir, "meta");
    await fs.promises.mkdir(dir, { recursive: true });
    // A temp file is a write that did not reach its rename: the old file is the truth.
    await fs.promises.rm(path.join(dir, TEMP_NAME), { force: true });
    const file = path.join(dir, FILE_NAME);
    let text: string;
    try {
      text = await fs.promises.readFile(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return new MetadataStore(dir, { version: 1, topics: {} });
      throw e;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`metadata: ${file} is not valid JSON`, { cause: e });
    }
    const parsed = FileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`metadata: ${file} is damaged: ${issue.path.join(".") || "(file)"}: ${issue.message}`);
    }
    const data = parsed.data;
    if (data.version === 2) {
      const actual = topicsChecksum(data.topics);
      if (actual !== data.crc32c) {
        throw new Error(`metadata: ${file} is damaged: its checksum is ${data.crc32c}, its content's is ${actual}; refusing to start (restore the file, or move the data dir aside)`);
      }
    }
    for (const name of Object.keys(data.topics)) {
      const problem = topicNameProblem(name);
      if (problem !== null) throw new Error(`metadata: ${file} is damaged: topic '${name}': ${problem}`);
    }
    return new MetadataStore(dir, { version: 1, topics: data.topics });
  }

  /** The last written (or loaded) state. Treat as read-only; build a new object to change it. */
  get current(): TopicsFile {
    return this.#current;
  }

  /** Makes `next` the durable state (see the contract at the top). */
  async write(next: TopicsFile): Promise<void> {
    const onDisk = { version: 2, crc32c: topicsChecksum(next.topics), topics: next.topics };
    const bytes = Buffer.from(JSON.stringify(onDisk, null, 1) + "\n", "utf8");
    const temp = path.join(this.dir, TEMP_NAME);
    const handle = await fs.promises.open(temp, "w");
    try {
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, written);
        written += bytesWritten;
      }
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(temp, this.file);
    await fsyncDirectory(this.dir);
    this.#current = next;
  }
}

/** fsync of a directory makes the creation, rename or removal of its entries durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
