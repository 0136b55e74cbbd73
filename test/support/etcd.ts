// Real etcd processes for tests: the launcher `sluice dev cluster` uses
// (cli/etcd_launcher.ts), and the wait options for conditions that go through
// etcd (with test/support/wait_for.ts).

import type { WaitOptions } from "./wait_for.ts";

export { etcdAvailable, type EtcdCluster, type EtcdMember, freePorts, startEtcd } from "../../cli/etcd_launcher.ts";

/**
 * For waitFor on a condition that goes through etcd: an election, a lease's TTL
 * or a watch event takes seconds on a loaded machine, and a probe that asks
 * etcd is a round trip, so the deadline is longer and the polling slower than
 * the defaults.
 */
export const ETCD_WAIT: WaitOptions = { timeoutMs: 20_000, everyMs: 20 };
