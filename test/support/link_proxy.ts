// A fault-injecting TCP proxy for one network link (127.0.0.1, port 0): a
// broker's inbound link (other brokers and clients reach it through its
// proxy, the port it advertises), or a broker's link to one etcd member.
//
// A network partition is a *blackhole*: cut() stops forwarding on the open
// connections without closing them (both sockets paused: bytes wait in the
// kernel's buffers, then the senders' own, as when packets stop arriving) and
// refuses new connections (accepted and closed at once). heal() resumes the
// held connections as they were, so late bytes do arrive afterwards, as they
// would after a real partition heals, and new connections pass again. A side
// that closes while its link is held is told to the other side only at heal().
//
// A cut may name its victims by source: each accepted connection is tagged
// with the process that opened it (socket_owner.ts, from `sources`: name →
// pid), and cut({ from }) holds only the connections whose source it matches,
// so a test isolates broker A from broker B without cutting B from C. A
// connection from no listed process (the test's own clients) has source
// undefined.
//
// Nothing is buffered here beyond one chunk per direction: forwarding honours
// backpressure (a full upstream pauses the reader).

import net from "node:net";
import { connectionOwner } from "./socket_owner.ts";

export type SourceFilter = (source: string | undefined) => boolean;

export interface LinkProxyOptions {
  /** What the proxy forwards to; may be set later (setTarget), connections wait meanwhile. */
  targetPort?: number;
  /** Processes whose connections are told apart (name → pid), read at each accept. */
  sources?: () => ReadonlyMap<string, number>;
  /** For messages. */
  name?: string;
}

interface Link {
  readonly client: net.Socket;
  upstream: net.Socket | undefined;
  readonly source: string | undefined;
  held: boolean;
  /** One side closed while the link was held: the other side learns it only when the partition heals. */
  endPending: boolean;
}

const ALL: SourceFilter = () => true;

export class LinkProxy {
  readonly name: string;
  private server: net.Server | undefined;
  private targetPort: number | undefined;
  private readonly links = new Set<Link>();
  /** The connections matching this are held, and new ones from it refused; undefined: none. */
  private cutFilter: SourceFilter | undefined;
  private readonly sources: () => ReadonlyMap<string, number>;
  /** Connections accepted, refused while cut, and held by cut(), in all. */
  accepted = 0;
  refused = 0;
  held = 0;

  private constructor(opts: LinkProxyOptions) {
    this.name = opts.name ?? "link";
    this.targetPort = opts.targetPort;
    this.sources = opts.sources ?? (() => new Map());
  }

  static async start(opts: LinkProxyOptions = {}): Promise<LinkProxy> {
    const p = new LinkProxy(opts);
    const server = net.createServer((client) => p.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    p.server = server;
    return p;
  }

  get port(): number {
    return (this.server!.address() as net.AddressInfo).port;
  }

  get isCut(): boolean {
    return this.cutFilter !== undefined;
  }

  /** Points the proxy at a (new) target, e.g. a broker restarted on another port; waiting connections go there. */
  setTarget(port: number): void {
    this.targetPort = port;
    for (const l of this.links) if (l.upstream === undefined && !l.held) this.connectUpstream(l);
  }

  /** Blackholes the link: holds the open connections (from `from`'s sources; all by default) and refuses new ones. */
  cut(opts: { from?: SourceFilter } = {}): void {
    this.cutFilter = opts.from ?? ALL;
    for (const l of this.links) if (this.cutFilter(l.source)) this.hold(l);
  }

  /** Ends the partition: held connections resume where they stopped, new ones pass. */
  heal(): void {
    this.cutFilter = undefined;
    for (const l of [...this.links]) {
      if (!l.held) continue;
      l.held = false;
      if (l.endPending) {
        this.end(l);
        continue;
      }
      if (l.upstream === undefined) {
        if (this.targetPort !== undefined) this.connectUpstream(l);
      } else {
        l.client.resume();
        l.upstream.resume();
      }
    }
  }

  /** Closes every connection (both sides at once, as a reset would) without changing the cut state. */
  resetAll(): void {
    for (const l of [...this.links]) this.end(l);
  }

  async close(): Promise<void> {
    this.resetAll();
    const server = this.server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    client.on("error", () => {});
    let source: string | undefined;
    const sources = this.sources();
    if (sources.size > 0 && client.remotePort !== undefined) source = connectionOwner(client.remotePort, this.port, sources);
    if (this.cutFilter !== undefined && this.cutFilter(source)) {
      this.refused++;
      client.destroy();
      return;
    }
    const l: Link = { client, upstream: undefined, source, held: false, endPending: false };
    this.links.add(l);
    client.pause();
    client.on("close", () => this.closed(l));
    if (this.targetPort !== undefined) this.connectUpstream(l);
  }

  private connectUpstream(l: Link): void {
    const upstream = net.connect(this.targetPort!, "127.0.0.1");
    l.upstream = upstream;
    upstream.on("error", () => {});
    upstream.on("close", () => this.closed(l));
    upstream.once("connect", () => {
      this.forward(l.client, upstream, l);
      this.forward(upstream, l.client, l);
      if (!l.held) l.client.resume();
      else upstream.pause();
    });
  }

  private forward(from: net.Socket, to: net.Socket, l: Link): void {
    from.on("data", (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on("drain", () => {
      if (!l.held) from.resume();
    });
  }

  private hold(l: Link): void {
    if (l.held) return;
    l.held = true;
    this.held++;
    l.client.pause();
    l.upstream?.pause();
  }

  /** A side closed: passed on at once, unless the link is held (a cut link carries no FIN either). */
  private closed(l: Link): void {
    if (l.held) l.endPending = true;
    else this.end(l);
  }

  private end(l: Link): void {
    if (!this.links.delete(l)) return;
    l.client.destroy();
    l.upstream?.destroy();
  }
}
