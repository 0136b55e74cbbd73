// Topic directories under `<dataDir>/topics/`, and what to do with one the
// metadata does not name.
//
// A create or a delete cut short by a crash leaves such a directory; so could
// damaged metadata (which the checksum should catch — but data is never
// deleted on a guess). So a create marks its directory `.creating` until the
// metadata names the topic, and a delete marks it `.deleting` before the
// metadata drops the topic. At start, a directory the metadata does not name
// is removed only when it carries one of those marks; any other is moved to
// `<dataDir>/lost+found/` and reported, never deleted.

import fs from "node:fs";
import path from "node:path";
import { fsyncDirectory } from "./metadata_store.ts";

export type TopicDirMark = "creating" | "deleting";

const MARK_FILES: Record<TopicDirMark, string> = { creating: ".creating", deleting: ".deleting" };

/** Writes the mark durably (file and directory entry fsynced). */
export async function markTopicDir(dir: string, mark: TopicDirMark): Promise<void> {
  const handle = await fs.promises.open(path.join(dir, MARK_FILES[mark]), "w");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsyncDirectory(dir);
}

export async function clearTopicDirMark(dir: string, mark: TopicDirMark): Promise<void> {
  await fs.promises.rm(path.join(dir, MARK_FILES[mark]), { force: true });
  await fsyncDirectory(dir);
}

export function topicDirMarks(dir: string): TopicDirMark[] {
  return (Object.keys(MARK_FILES) as TopicDirMark[]).filter((m) => fs.existsSync(path.join(dir, MARK_FILES[m])));
}

/**
 * Deals with a directory under topics/ that no topic owns: removed when a
 * create or delete marked it, else moved to lost+found. Returns what was done.
 */
export async function settleUnownedTopicDir(dataDir: string, name: string): Promise<"removed" | "quarantined"> {
  const topicsDir = path.join(dataDir, "topics");
  const dir = path.join(topicsDir, name);
  if (topicDirMarks(dir).length > 0) {
    await fs.promises.rm(dir, { recursive: true, force: true });
    await fsyncDirectory(topicsDir);
    return "removed";
  }
  const lostFound = path.join(dataDir, "lost+found");
  await fs.promises.mkdir(lostFound, { recursive: true });
  await fs.promises.rename(dir, path.join(lostFound, `${name}.${Date.now()}`));
  await fsyncDirectory(lostFound);
  await fsyncDirectory(topicsDir);
  return "quarantined";
}
