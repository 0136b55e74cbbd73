// The etcd key layout of one cluster (docs/CLUSTER.md, "The etcd key layout"):
// every key under /sluice/<cluster>/. The one place that spells a key.

import { BROKER_ID_MAX, CLUSTER_NAME_PATTERN } from "./cluster_limits.ts";

export class ClusterKeys {
  readonly cluster: string;
  /** `/sluice/<cluster>/` */
  readonly root: string;
  /** `/sluice/<cluster>/brokers/`: one key per live broker, under its session lease. */
  readonly brokersPrefix: string;
  /** `/sluice/<cluster>/controller`: the election key; its create revision is the controller epoch. */
  readonly controller: string;
  /** `/sluice/<cluster>/topics/`: one key per topic (configs and replica assignment). */
  readonly topicsPrefix: string;
  /** `/sluice/<cluster>/partitions/`: one key per partition state. */
  readonly partitionsPrefix: string;
  /** `/sluice/<cluster>/requests/`: topic admin requests any broker puts and the controller answers (topic_requests.ts). */
  readonly requestsPrefix: string;
  /** `/sluice/<cluster>/shutdown/`: one key per broker in controlled shutdown, under its session lease (controlled_shutdown.ts). */
  readonly shutdownPrefix: string;
  /**
   * `/sluice/<cluster>/move-plans/`: reassignment plans the controller accepted
   * and is still starting (move_start.ts): `<id>/plan`, and `<id>/done/<topic>`
   * per topic started. Controller-owned, under no lease: a successor finishes them.
   */
  readonly movePlansPrefix: string;
  /**
   * `/sluice-load/<cluster>/`: one load report per live broker, under its
   * session lease (load_reports.ts). Outside `root` on purpose: the brokers'
   * views watch `root`, and nobody but the tools reads these.
   */
  readonly loadPrefix: string;

  constructor(cluster: string) {
    if (!CLUSTER_NAME_PATTERN.test(cluster)) {
      throw new Error(`cluster name '${cluster}' must be 1-64 characters of letters, digits, '.', '_' or '-'`);
    }
    this.cluster = cluster;
    this.root = `/sluice/${cluster}/`;
    this.brokersPrefix = `${this.root}brokers/`;
    this.controller = `${this.root}controller`;
    this.topicsPrefix = `${this.root}topics/`;
    this.partitionsPrefix = `${this.root}partitions/`;
    this.requestsPrefix = `${this.root}requests/`;
    this.shutdownPrefix = `${this.root}shutdown/`;
    this.movePlansPrefix = `${this.root}move-plans/`;
    this.loadPrefix = `/sluice-load/${cluster}/`;
  }

  broker(id: number): string {
    checkBrokerId(id);
    return `${this.brokersPrefix}${id}`;
  }

  /** The broker id a key under brokers/ names, or undefined for any other key. */
  brokerIdOf(key: string): number | undefined {
    if (!key.startsWith(this.brokersPrefix)) return undefined;
    const rest = key.slice(this.brokersPrefix.length);
    if (!/^(0|[1-9]\d{0,9})$/.test(rest)) return undefined;
    const id = Number(rest);
    return id <= BROKER_ID_MAX ? id : undefined;
  }

  /** `shutdown/<id>`: the broker announces its controlled shutdown (same id rule as `brokers/<id>`). */
  shutdown(id: number): string {
    checkBrokerId(id);
    return `${this.shutdownPrefix}${id}`;
  }

  /** The broker id a key under shutdown/ names, or undefined for any other key. */
  shutdownIdOf(key: string): number | undefined {
    if (!key.startsWith(this.shutdownPrefix)) return undefined;
    return this.brokerIdOf(this.brokersPrefix + key.slice(this.shutdownPrefix.length));
  }

  /** `load/<id>`: the broker's load report (same id rule as `brokers/<id>`). */
  load(id: number): string {
    checkBrokerId(id);
    return `${this.loadPrefix}${id}`;
  }

  /** The broker id a load report key names, or undefined for any other key. */
  loadIdOf(key: string): number | undefined {
    if (!key.startsWith(this.loadPrefix)) return undefined;
    return this.brokerIdOf(this.brokersPrefix + key.slice(this.loadPrefix.length));
  }

  topic(name: string): string {
    return `${this.topicsPrefix}${name}`;
  }

  partition(topic: string, partition: number): string {
    return `${this.partitionsPrefix}${topic}/${partition}`;
  }

  request(id: string): string {
    return `${this.requestsPrefix}${id}`;
  }

  /** Every key of accepted plan `id` (its record and done markers). Plan ids are request ids (UUIDs, no '/'). */
  movePlanKeys(id: string): string {
    return `${this.movePlansPrefix}${id}/`;
  }

  movePlan(id: string): string {
    return `${this.movePlanKeys(id)}plan`;
  }

  movePlanDone(id: string, topic: string): string {
    return `${this.movePlanKeys(id)}done/${topic}`;
  }

  /** The prefix of every partition state of `topic` (topic names have no '/', so it is the topic's alone). */
  partitionsOf(topic: string): string {
    return `${this.partitionsPrefix}${topic}/`;
  }
}

export function checkBrokerId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > BROKER_ID_MAX) throw new Error(`broker id must be an integer in 0..${BROKER_ID_MAX}, got ${id}`);
}
