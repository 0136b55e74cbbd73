// Small, exact reproductions of bugs the fault tests found, so each stays
// fixed. Each names the test that found it.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { ErrorCode } from "../../protocol/errors.ts";
import { decodeFetchResponse, writeFetchRequest } from "../../protocol/messages/fetch.ts";
import { type BrokerProcess, startBroker } from "../support/broker.ts";
import { RawClient, encodeBody } from "../support/raw_client.ts";

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker({ args: ["--workers", "1"] });
  const c = await RawClient.connect(broker.port);
  await c.control(19, { topics: [{ name: "rg", partitions: 1 }] });
  c.close();
});

afterAll(async () => {
  if (broker !== undefined) await broker.stop();
});

// Found by fuzz_protocol.test.ts: a Fetch whose FetchOffset is negative or above
// 2^53 is answered twice with the same correlation id (OFFSET_OUT_OF_RANGE both
// times). A client that reuses correlation ids would pair the second answer with
// a later request. Cause: engine/fetch_operation.ts #read() finished the round
// after its loop although #issue() had already finished it synchronously through
// #onResult() (the invalid-offset path). Fixed in 1b9cdb0.
test("a fetch at a negative or huge offset is answered exactly once, with OFFSET_OUT_OF_RANGE", async () => {
  const c = await RawClient.connect(broker.port);
  try {
    for (const [fetchOffset, maxWaitMs] of [[-1n, 0], [-1n, 100], [2n ** 60n, 100]] as const) {
      const body = encodeBody((w) =>
        writeFetchRequest(w, {
          maxWaitMs,
          minBytes: 1,
          maxBytes: 1024,
          topics: [{ name: "rg", partitions: [{ index: 0, fetchOffset, partitionMaxBytes: 1024 }] }],
        }),
      );
      const id = c.sendRequest(1, body);
      const res = await c.response(id);
      expect(decodeFetchResponse(res.body).topics[0].partitions[0].errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
      // A later request on the same connection: by the time it is answered, a second answer to `id` would have come.
      await c.request(18, new Uint8Array([0x80]));
      expect(c.arrivalOrder.filter((x) => x === id).length).toBe(1);
    }
  } finally {
    c.close();
  }
});
