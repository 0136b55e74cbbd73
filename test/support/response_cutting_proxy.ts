// A TCP proxy between a client and a broker that drops Produce responses: the
// request reaches the broker (and is stored), the response is thrown away and
// both connections are cut, as when a network fails after the broker answered.
// What a client then does (retry, or not) decides whether the log ends up
// with the records once or twice.
//
// It reads the frame headers of both directions (docs/PROTOCOL.md, "Frames")
// to tell which response answers a Produce; everything else passes through.
// Listens on 127.0.0.1 port 0.

import net from "node:net";

const PRODUCE = 0;

export interface CuttingProxy {
  readonly port: number;
  /** Produce responses dropped (each with its connection cut). */
  readonly cuts: number;
  /** Produce responses passed to the client. */
  readonly passed: number;
  close(): Promise<void>;
}

/** Cuts every `every`-th Produce response, at most `cutsMax` times in all. */
export async function startCuttingProxy(opts: { brokerPort: number; every: number; cutsMax: number }): Promise<CuttingProxy> {
  let cuts = 0;
  let passed = 0;
  let produceResponses = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(opts.brokerPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    const produceIds = new Set<number>();
    let up = Buffer.alloc(0);
    let down = Buffer.alloc(0);
    let cut = false;
    const cutBoth = (): void => {
      cut = true;
      client.destroy();
      upstream.destroy();
    };
    client.on("data", (chunk: Buffer) => {
      if (cut) return;
      upstream.write(chunk);
      // Request = Size:u32 ApiKey:u16 ApiVersion:u16 CorrelationId:u32 Body
      up = Buffer.concat([up, chunk]);
      while (up.length >= 12 && up.length >= 4 + up.readUInt32BE(0)) {
        if (up.readUInt16BE(4) === PRODUCE) produceIds.add(up.readUInt32BE(8));
        up = up.subarray(4 + up.readUInt32BE(0));
      }
    });
    upstream.on("data", (chunk: Buffer) => {
      if (cut) return;
      // Response = Size:u32 CorrelationId:u32 Body: forwarded frame by frame.
      down = Buffer.concat([down, chunk]);
      while (down.length >= 8 && down.length >= 4 + down.readUInt32BE(0)) {
        const size = 4 + down.readUInt32BE(0);
        const id = down.readUInt32BE(4);
        if (produceIds.delete(id)) {
          produceResponses++;
          if (cuts < opts.cutsMax && produceResponses % opts.every === 0) {
            cuts++;
            cutBoth();
            return;
          }
          passed++;
        }
        client.write(down.subarray(0, size));
        down = down.subarray(size);
      }
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get cuts() {
      return cuts;
    },
    get passed() {
      return passed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
