// Real etcd processes for tests: the launcher `sluice dev cluster` uses
// (cli/etcd_launcher.ts), and a condition wait with a deadline.

export { etcdAvailable, type EtcdCluster, type EtcdMember, freePorts, startEtcd, until } from "../../cli/etcd_launcher.ts";
