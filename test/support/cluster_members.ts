// In-process cluster members (cluster/cluster_member.ts) on a real etcd, for
// the controller's tests: `ids` brokers join one cluster in order, the first
// is controller before the next joins, and every member's view sees every
// broker before this returns. Each member is closed by the caller's cleanups.

import { ClusterMember } from "../../cluster/cluster_member.ts";
import { EtcdClient } from "../../cluster/etcd_client.ts";
import { ETCD_WAIT } from "./etcd.ts";
import { waitFor } from "./wait_for.ts";

export interface MembersOptions {
  readonly endpoints: readonly string[];
  readonly clusterName: string;
  readonly ids: readonly number[];
  readonly leaseTtlSeconds: number;
  readonly log: (line: string) => void;
  /** Where each member's close() goes (run by the test after it). */
  readonly cleanups: (() => Promise<void>)[];
}

export async function startMembers(o: MembersOptions) {
  const client = new EtcdClient({ endpoints: [...o.endpoints] });
  const members = new Map<number, ClusterMember>();
  const start = async (id: number) => {
    const m = await ClusterMember.start({
      client,
      clusterName: o.clusterName,
      leaseTtlSeconds: o.leaseTtlSeconds,
      broker: { id, host: "127.0.0.1", port: 9000 + id, httpPort: 9100 + id, rack: null },
      log: o.log,
    });
    o.cleanups.push(() => m.close());
    members.set(id, m);
    return m;
  };
  for (const id of o.ids) {
    await start(id);
    if (id === o.ids[0]) await waitFor(() => members.get(id)!.isController, { ...ETCD_WAIT, what: "first broker is controller" });
  }
  await waitFor(() => [...members.values()].every((m) => m.view.brokers.size === o.ids.length), { ...ETCD_WAIT, what: "every view sees every broker" });
  return { client, members, start, keys: members.get(o.ids[0])!.keys };
}
