import { expect, test } from "bun:test";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { GroupApiKey } from "../../protocol/messages/groups.ts";
import { GroupCoordinator } from "./coordinator.ts";
import { FakeTimers } from "./fake_timers.ts";
import { groupHandlers } from "./handlers.ts";
import { MemoryOffsetStore } from "./memory_offset_store.ts";

const ctx = { connectionId: 1, onConnectionClose: () => {} };
const handlers = groupHandlers(
  new GroupCoordinator({
    timers: new FakeTimers(),
    topics: { partitionCount: () => 1, highWatermark: () => 0, logStartOffset: () => 0 },
    offsets: new MemoryOffsetStore(),
  }),
);

async function codeOf(apiKey: number, body: unknown): Promise<{ code: number; message: string } | undefined> {
  try {
    await handlers.get(apiKey)!(body, ctx);
    return undefined;
  } catch (e) {
    if (!(e instanceof SluiceError)) throw e;
    return { code: e.code, message: e.message };
  }
}

test("every group api key has a handler (FindCoordinator's is mod.ts's: it needs the engine)", () => {
  const keys = Object.values(GroupApiKey).filter((k) => k !== GroupApiKey.FindCoordinator);
  expect([...handlers.keys()].sort((a, b) => a - b)).toEqual(keys.sort((a, b) => a - b));
});

test("bodies that do not fit the schema: INVALID_REQUEST naming the field; a bad group id: INVALID_GROUP_ID", async () => {
  expect(await codeOf(GroupApiKey.Heartbeat, { groupId: "g", generationId: "1", memberId: "m" })).toMatchObject({ code: ErrorCode.INVALID_REQUEST, message: expect.stringContaining("generationId") });
  expect(await codeOf(GroupApiKey.JoinGroup, { groupId: "g", memberId: "", topics: [], sessionTimeoutMs: 1000, rebalanceTimeoutMs: 1000, assignors: ["range"] })).toMatchObject({ code: ErrorCode.INVALID_REQUEST, message: expect.stringContaining("topics") });
  expect(await codeOf(GroupApiKey.OffsetCommit, "not a map")).toMatchObject({ code: ErrorCode.INVALID_REQUEST });
  expect(await codeOf(GroupApiKey.SyncGroup, { groupId: "", generationId: 1, memberId: "m" })).toMatchObject({ code: ErrorCode.INVALID_GROUP_ID });
  expect(await codeOf(GroupApiKey.DescribeGroups, { groupIds: ["x".repeat(300)] })).toMatchObject({ code: ErrorCode.INVALID_GROUP_ID });
  expect(await codeOf(GroupApiKey.ListGroups, {})).toBeUndefined();
});
