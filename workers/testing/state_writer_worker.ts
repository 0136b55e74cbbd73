// Test peer for partition_state.test.ts: rewrites one row `count` times, each time
// with every numeric field set to the same value, so a torn read shows as a row
// whose fields disagree.

import { PartitionStateTable, emptyStateView } from "../partition_state.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent) => {
  const { sab, slot, count } = event.data as { sab: SharedArrayBuffer; slot: number; count: number };
  const table = new PartitionStateTable(sab);
  const v = emptyStateView();
  for (let k = 1; k <= count; k++) {
    v.logStartOffset = v.logEndOffset = v.highWatermark = v.durableOffset = k;
    v.bytesIn = v.messagesIn = v.bytesOut = v.messagesOut = v.sizeBytes = v.segments = v.errorCode = k;
    v.online = (k & 1) === 1;
    table.write(slot, v);
  }
  postMessage("done");
};
