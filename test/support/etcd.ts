// Real etcd processes for tests: the launcher `sluice dev cluster` uses
// (cli/etcd_launcher.ts), and the wait options for conditions that go through
// etcd (with test/support/wait_for.ts).

import { type EtcdCluster, startEtcd as launchEtcd } from "../../cli/etcd_launcher.ts";
import type { WaitOptions } from "./wait_for.ts";

export { etcdAvailable, type EtcdCluster, type EtcdMember, freePorts } from "../../cli/etcd_launcher.ts";

/**
 * Starts etcd members (cli/etcd_launcher.ts) whose stop() kills them
 * (SIGKILL) before removing their data dirs: a test's etcd is thrown away
 * whole, so the graceful stop (a member that leads tries to hand its Raft
 * leadership over to members that are stopping too, for seconds) buys nothing.
 */
export async function startEtcd(opts: Parameters<typeof launchEtcd>[0] = {}): Promise<EtcdCluster> {
  const etcd = await launchEtcd(opts);
  return {
    ...etcd,
    async stop() {
      await Promise.all(etcd.members.map((_, i) => etcd.kill(i)));
      await etcd.stop();
    },
  };
}

/**
 * For waitFor on a condition that goes through etcd: an election, a lease's TTL
 * or a watch event takes seconds on a loaded machine, and a probe that asks
 * etcd is a round trip, so the deadline is longer and the polling slower than
 * the defaults.
 */
export const ETCD_WAIT: WaitOptions = { timeoutMs: 20_000, everyMs: 20 };
