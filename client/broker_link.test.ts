// BrokerLink.abandonConnect against a real closed port on 127.0.0.1 (what a
// kill -9'd broker's address looks like: connects refused at once): requests
// waiting for the connection fail at once with a connect-phase
// ConnectionError instead of after connectTimeoutMs, and the link still
// tries again for a later request.

import { expect, test } from "bun:test";
import net from "node:net";
import { ApiKey } from "../protocol/api_keys.ts";
import { BrokerLink } from "./broker_link.ts";
import { ConnectionError } from "./errors.ts";
import { clientConfig } from "./options.ts";
import { waitFor } from "../test/support/wait_for.ts";

/** Far above how long the test may take: a request that waited for it would time the test out. */
const CONNECT_TIMEOUT_MS = 60_000;

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function outcome(p: Promise<unknown>): { settled: boolean; error: unknown } {
  const o = { settled: false, error: undefined as unknown };
  p.then(
    () => (o.settled = true),
    (e) => {
      o.settled = true;
      o.error = e;
    },
  );
  return o;
}

test("abandonConnect fails the requests waiting for a connection that is refused, at once and as never written; a later request tries again", async () => {
  const port = await closedPort();
  const link = new BrokerLink(clientConfig({ broker: `127.0.0.1:${port}`, connectTimeoutMs: CONNECT_TIMEOUT_MS, reconnectBackoffMs: 50 }), "test link");
  try {
    const first = outcome(link.request(ApiKey.Metadata, () => {}));
    const second = outcome(new Promise((resolve, reject) => link.send(ApiKey.Metadata, { encodeBody: () => {}, onResponse: resolve, onError: reject })));
    // The link keeps trying (refused, backing off) for connectTimeoutMs: nothing settles by itself.
    await waitFor(() => link.connectionsOpened === 0 && !first.settled && !second.settled, { timeoutMs: 1_000 });
    link.abandonConnect("another broker leads");
    await waitFor(() => first.settled && second.settled, { what: "both requests failed", timeoutMs: 5_000 });
    for (const o of [first, second]) {
      expect(o.error).toBeInstanceOf(ConnectionError);
      expect((o.error as ConnectionError).phase).toBe("connect");
      expect((o.error as Error).message).toContain("another broker leads");
    }
    // Abandoning is not closing: a new request starts connect attempts again (and waits on them).
    const third = outcome(link.request(ApiKey.Metadata, () => {}));
    await waitFor(() => !third.settled, { timeoutMs: 1_000 });
    link.abandonConnect("again");
    await waitFor(() => third.settled, { what: "the third request failed", timeoutMs: 5_000 });
    expect((third.error as ConnectionError).phase).toBe("connect");
  } finally {
    link.close();
  }
});

test("abandonConnect on a link that is not connecting does nothing", () => {
  const link = new BrokerLink(clientConfig({ broker: "127.0.0.1:1", connectTimeoutMs: CONNECT_TIMEOUT_MS }), "idle link");
  link.abandonConnect("nothing waits");
  expect(link.connected).toBe(false);
  link.close();
});
