// One real etcd per test file (or per describe block, where it is called),
// for the in-process cluster tests: started in beforeAll, killed in afterAll,
// and a list of cleanups (leases, elections, members, views) run after each
// test, newest first, so every test starts on a cluster of its own name with
// nothing of the previous test still renewing or watching.
//
// Kept apart from etcd.ts: that module is also imported by benchmarks, which
// run outside `bun test` and have no hooks to register.

import { afterAll, afterEach, beforeAll } from "bun:test";
import { type EtcdCluster, startEtcd } from "./etcd.ts";

export type Cleanup = () => Promise<void>;

export interface TestEtcd {
  /** The running members (started in beforeAll: read this inside tests, not at load). */
  readonly cluster: EtcdCluster;
  /** The members' client URLs, as `cluster.endpoints`. */
  readonly endpoints: string[];
  /** Run after each test in reverse order, errors ignored (a lease already revoked by the test, say). */
  readonly cleanups: Cleanup[];
}

export function useEtcd(opts: { members?: 1 | 3 } = {}): TestEtcd {
  let cluster: EtcdCluster | undefined;
  const cleanups: Cleanup[] = [];
  beforeAll(async () => {
    cluster = await startEtcd({ members: opts.members ?? 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });
  const running = (): EtcdCluster => {
    if (cluster === undefined) throw new Error("etcd is not running: useEtcd() starts it in beforeAll, read it inside a test");
    return cluster;
  };
  return {
    get cluster() {
      return running();
    },
    get endpoints() {
      return running().endpoints;
    },
    cleanups,
  };
}
