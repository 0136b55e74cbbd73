// The cluster's public face: what engine/ and cli/ may import of cluster/.

export * from "./cluster_limits.ts";
export * from "./etcd_errors.ts";
export { EtcdClient, parseEndpoint, parseEndpointList, type EtcdClientOptions, type RangeResult, type TxnRequest, type TxnResult } from "./etcd_client.ts";
export { EtcdWatch, type WatchEvent, type WatchHandlers, type WatchStats } from "./etcd_watch.ts";
export { cmp, op, type Compare, type KeyValue, type TxnOp, type TxnOpResult } from "./etcd_wire.ts";
export { LeaseKeeper, type LeaseKeeperOptions } from "./lease_keeper.ts";
