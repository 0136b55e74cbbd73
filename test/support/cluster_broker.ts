// One broker of a test cluster (cluster_harness.ts): a `sluice serve
// --cluster-etcd …` process on its own data dir, with its network links.
//
// Links: every connection to the broker (from other brokers' followers and
// from clients) goes through its inbound proxy, whose port is what the broker
// advertises (`--advertised-port`) and so what etcd, metadata and followers
// name; the broker reaches each etcd member through a proxy of its own. A test
// cuts those (link_proxy.ts) to make network partitions.
//
// Faults on the process, each by its PID: kill9(), terminate() (SIGTERM: a
// graceful stop), pause()/resume() (SIGSTOP/SIGCONT), and restart() on the same
// data dir (optionally with other environment, e.g. SLUICE_FAULTS for disk
// errors, engine/fault_hooks.ts). The inbound proxy follows the new process to
// its new listener port.

import { type BrokerProcess, startBroker } from "./broker.ts";
import type { LinkProxy } from "./link_proxy.ts";

/** Starts refused because the broker's previous session still held its id, at most (then the error stands). */
const START_ATTEMPTS_MAX = 5;

export interface ClusterBrokerOptions {
  readonly id: number;
  readonly dataDir: string;
  readonly inbound: LinkProxy;
  /** One per etcd member, in member order. */
  readonly etcdLinks: readonly LinkProxy[];
  /** Flags every start of this broker gets (cluster name, lease TTL, workers…); the links' flags are added here. */
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
  /** Whether the broker runs its Kafka listener (port 0, reached straight, not through a proxy); default off. */
  readonly kafkaListener?: boolean;
}

export class ClusterBroker {
  readonly id: number;
  readonly dataDir: string;
  readonly inbound: LinkProxy;
  readonly etcdLinks: readonly LinkProxy[];
  private readonly args: readonly string[];
  private readonly kafkaListener: boolean;
  private env: Record<string, string>;
  private process: BrokerProcess | undefined;
  private stopped = false;
  /** Processes this broker ran (1 + restarts), for the report. */
  starts = 0;

  constructor(opts: ClusterBrokerOptions) {
    this.id = opts.id;
    this.dataDir = opts.dataDir;
    this.inbound = opts.inbound;
    this.etcdLinks = opts.etcdLinks;
    this.args = opts.args;
    this.env = opts.env ?? {};
    this.kafkaListener = opts.kafkaListener ?? false;
  }

  /** The address other brokers and clients use: the inbound proxy. */
  get address(): string {
    return `127.0.0.1:${this.inbound.port}`;
  }

  /** The process's PID while one runs (paused included), else undefined. */
  get pid(): number | undefined {
    const p = this.process;
    return p !== undefined && p.proc.exitCode === null && p.proc.signalCode === null ? p.pid : undefined;
  }

  get running(): boolean {
    return this.pid !== undefined && !this.stopped;
  }

  get paused(): boolean {
    return this.stopped;
  }

  /** The listener's own port (not the advertised one), for a test that must bypass the proxy. */
  get listenerPort(): number | undefined {
    return this.process?.port;
  }

  /** The current process's HTTP port (/metrics, /healthz), reached straight. */
  get httpPort(): number | undefined {
    return this.process?.httpPort;
  }

  /** The current process's Kafka listener port (reached straight: Kafka metadata names it), null when the listener is off. */
  get kafkaPort(): number | null | undefined {
    return this.process?.kafkaPort;
  }

  output(): string {
    return this.process?.output() ?? "";
  }

  /** Starts a process on the data dir; `env` replaces the environment given so far (a restart without faults: {}). */
  async start(env?: Record<string, string>): Promise<void> {
    if (this.pid !== undefined) throw new Error(`broker ${this.id} is already running (pid ${this.pid})`);
    if (env !== undefined) this.env = env;
    const etcd = this.etcdLinks.map((l) => `http://127.0.0.1:${l.port}`).join(",");
    for (let attempt = 1; ; attempt++) {
      try {
        this.process = await startBroker({
          dataDir: this.dataDir,
          args: [...this.args, "--broker-id", String(this.id), "--cluster-etcd", etcd, "--advertised-port", String(this.inbound.port), ...(this.kafkaListener ? [] : ["--kafka-port", "-1"])],
          env: this.env,
        });
        break;
      } catch (e) {
        // Restarted within its old session's TTL, the broker waits that session out once and then
        // refuses to start (docs/CLUSTER.md). etcd extends every lease when its Raft leader changes,
        // so after an etcd member was killed the wait can fall short: start again, as a supervisor would.
        if (attempt >= START_ATTEMPTS_MAX || !/is already registered/.test(String((e as Error)?.message))) throw e;
      }
    }
    this.stopped = false;
    this.starts++;
    this.inbound.setTarget(this.process.port);
  }

  async kill9(): Promise<void> {
    const p = this.process;
    if (p === undefined) return;
    if (this.stopped) this.resume();
    await p.kill9();
  }

  /** SIGTERM (graceful: hands leaderships over, revokes the session); resolves with the exit code. */
  async terminate(): Promise<number> {
    const p = this.process;
    if (p === undefined) return 0;
    if (this.stopped) this.resume();
    return p.stop("SIGTERM");
  }

  pause(): void {
    const pid = this.pid;
    if (pid === undefined) throw new Error(`broker ${this.id} is not running`);
    process.kill(pid, "SIGSTOP");
    this.stopped = true;
  }

  resume(): void {
    const pid = this.pid;
    if (pid !== undefined) process.kill(pid, "SIGCONT");
    this.stopped = false;
  }

  /** kill -9 (if running) and start again on the same data dir. */
  async restart(env?: Record<string, string>): Promise<void> {
    await this.kill9();
    await this.start(env);
  }

  /** Ends the process if one runs (SIGKILL) and closes the links; the harness removes the data dir. */
  async cleanup(): Promise<void> {
    if (this.stopped) this.resume();
    await this.process?.cleanup();
    await this.inbound.close();
    for (const l of this.etcdLinks) await l.close();
  }
}
