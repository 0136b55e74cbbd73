// A capture server for Kafka clients: listens on 127.0.0.1 (port 0), records
// every request frame a real client sends, and answers through
// kafka_responder.ts so the client goes on to its next request. Used once per
// client to record golden request bytes (kafka_capture_cli.ts), and by tests
// that check a real client accepts our response encoders.

import net from "node:net";
import { FRAME_BYTES_MAX } from "../../protocol/limits.ts";
import { decodeRequestHeader, type KafkaRequestHeader } from "../../protocol/kafka/header.ts";
import { KafkaReader } from "../../protocol/kafka/reader.ts";
import { KafkaWriter } from "../../protocol/kafka/writer.ts";
import { answer, newResponderState, type ResponderState } from "./kafka_responder.ts";

export interface CapturedFrame {
  header: KafkaRequestHeader;
  /** The request frame without its size prefix: header + body. */
  frame: Uint8Array;
  /** Set when the body did not decode or could not be answered. */
  error: string | null;
}

export interface KafkaCapture {
  port: number;
  frames: CapturedFrame[];
  state: ResponderState;
  close(): Promise<void>;
}

/** Frames recorded per capture, so a client in a loop cannot grow memory without bound. */
export const CAPTURED_FRAMES_MAX = 10_000;

export async function startKafkaCapture(): Promise<KafkaCapture> {
  const frames: CapturedFrame[] = [];
  const sockets = new Set<net.Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const state = newResponderState("127.0.0.1", port);

  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let pending: Buffer = Buffer.alloc(0);
    // Answers go out in request order even when one is held (an empty fetch).
    let chain: Promise<void> = Promise.resolve();
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (size < 0 || size > FRAME_BYTES_MAX) {
          socket.destroy();
          return;
        }
        if (pending.length < 4 + size) break;
        const frame = new Uint8Array(pending.subarray(4, 4 + size));
        pending = pending.subarray(4 + size);
        const r = new KafkaReader(frame);
        let captured: CapturedFrame;
        const w = new KafkaWriter();
        let delayMs = 0;
        let respond = true;
        try {
          const header = decodeRequestHeader(r);
          captured = { header, frame, error: null };
          try {
            ({ delayMs, respond } = answer(state, header.apiKey, header.apiVersion, header.correlationId, r, w));
          } catch (e) {
            captured.error = e instanceof Error ? e.message : String(e);
            respond = false;
            socket.end();
          }
        } catch (e) {
          captured = { header: { apiKey: -1, apiVersion: -1, correlationId: -1, clientId: null, headerVersion: 1 }, frame, error: String(e) };
          respond = false;
          socket.destroy();
        }
        if (frames.length < CAPTURED_FRAMES_MAX) frames.push(captured);
        if (!respond) continue;
        const out = Buffer.from(w.finish());
        chain = chain.then(
          () =>
            new Promise<void>((resolve) => {
              const send = () => {
                if (!socket.destroyed) socket.write(out);
                resolve();
              };
              if (delayMs <= 0) return send();
              const t = setTimeout(() => {
                timers.delete(t);
                send();
              }, delayMs);
              timers.add(t);
            }),
        );
      }
    });
  });

  return {
    port,
    frames,
    state,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
