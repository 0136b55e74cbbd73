// GroupConsumer's options at the edge: `broker` like every client, the
// deprecated `brokers` alias, and the connection options every client takes
// at the top level (checked against a port nobody listens on). Behaviour
// against a real broker: test/groups_*.test.ts.

import { describe, expect, test } from "bun:test";
import net from "node:net";
import { ErrorCode } from "../protocol/errors.ts";
import { ClientErrorCode, InvalidArgumentError } from "./errors.ts";
import { GroupAdmin } from "./group_admin.ts";
import { GroupConsumer } from "./group_consumer.ts";
import { DEFAULT_BROKER } from "./options.ts";

/** A port that was free a moment ago: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("GroupConsumer options", () => {
  test("`broker` is the address, as for Producer, Consumer and Admin; the default is the others' default", () => {
    expect(new GroupConsumer({ broker: "10.0.0.7:9901", groupId: "g" }).broker).toBe("10.0.0.7:9901");
    expect(new GroupConsumer({ groupId: "g" }).broker).toBe(DEFAULT_BROKER);
  });

  test("the deprecated `brokers` still works: its first entry is the broker", () => {
    expect(new GroupConsumer({ brokers: ["10.0.0.8:9902", "10.0.0.9:9903"], groupId: "g" }).broker).toBe("10.0.0.8:9902");
    expect(new GroupConsumer({ brokers: [], groupId: "g" }).broker).toBe(DEFAULT_BROKER);
    expect(new GroupConsumer({ broker: "10.0.0.8:9902", brokers: ["10.0.0.8:9902"], groupId: "g" }).broker).toBe("10.0.0.8:9902");
  });

  test("an address that is not HOST:PORT, or `broker` and `brokers` that disagree, are refused at construction", () => {
    expect(() => new GroupConsumer({ broker: "nohost", groupId: "g" })).toThrow(InvalidArgumentError);
    expect(() => new GroupConsumer({ brokers: ["h:0"], groupId: "g" })).toThrow(InvalidArgumentError);
    const e = (() => {
      try {
        new GroupConsumer({ broker: "a:1", brokers: ["b:2"], groupId: "g" });
      } catch (err) {
        return err as InvalidArgumentError;
      }
    })();
    expect(e?.code).toBe(ClientErrorCode.INVALID_ARGUMENT);
    expect(e?.message).toContain("disagree");
  });

  test("connection options at the top level reach its connections (connectTimeoutMs ends a refused connect early)", async () => {
    const port = await closedPort();
    const c = new GroupConsumer({ broker: `127.0.0.1:${port}`, groupId: "g", connectTimeoutMs: 200, reconnectBackoffMs: 20 });
    c.subscribe(["t"]);
    const started = Date.now();
    // The default connectTimeoutMs is 10 s: failing well before that shows the top-level option was used.
    await expect(c.run({ eachMessage: () => {} })).rejects.toMatchObject({ code: ErrorCode.NETWORK_EXCEPTION });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("GroupAdmin options", () => {
  test("takes `broker` like Admin, refuses a bad address at construction, and fails like Admin when nobody listens", async () => {
    expect(() => new GroupAdmin({ broker: "nohost" })).toThrow(InvalidArgumentError);
    const port = await closedPort();
    const admin = new GroupAdmin({ broker: `127.0.0.1:${port}`, connectTimeoutMs: 200, reconnectBackoffMs: 20 });
    await expect(admin.listGroups()).rejects.toMatchObject({ code: ErrorCode.NETWORK_EXCEPTION });
    await admin.close();
    await expect(admin.listGroups()).rejects.toMatchObject({ code: ClientErrorCode.CLIENT_CLOSED });
  });

  test("a channel given to it is used as it is and left open at close()", async () => {
    const calls: number[] = [];
    let closed = false;
    const rpc = {
      call: async (apiKey: number) => {
        calls.push(apiKey);
        return { groups: [] };
      },
      close: async () => void (closed = true),
    };
    const admin = new GroupAdmin(rpc);
    expect(await admin.listGroups()).toEqual([]);
    const viaOption = new GroupAdmin({ rpc });
    expect(await viaOption.listGroups()).toEqual([]);
    await admin.close();
    await viaOption.close();
    expect(calls.length).toBe(2);
    expect(closed).toBe(false);
  });
});
