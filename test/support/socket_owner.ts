// Which process opened a loopback TCP connection, from Linux's /proc: the
// connection's client-side port names a socket inode in /proc/net/tcp, and the
// process holding that inode has it among its /proc/PID/fd links.
//
// The network-partition proxies (link_proxy.ts) use it to tell, among the
// connections reaching one broker's proxy, which come from which broker, so a
// test can cut broker A → broker B without cutting C → B: every process
// connects from 127.0.0.1, so the address alone cannot say.

import fs from "node:fs";

/** The socket inode of the IPv4 loopback connection from `clientPort` to `serverPort`, or undefined. */
export function loopbackSocketInode(clientPort: number, serverPort: number): number | undefined {
  const local = `0100007F:${clientPort.toString(16).toUpperCase().padStart(4, "0")}`;
  const remote = `0100007F:${serverPort.toString(16).toUpperCase().padStart(4, "0")}`;
  let table: string;
  try {
    table = fs.readFileSync("/proc/net/tcp", "utf8");
  } catch {
    return undefined;
  }
  for (const line of table.split("\n")) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[1] === local && f[2] === remote) return Number(f[9]);
  }
  return undefined;
}

/** Whether process `pid` holds the socket `inode` (false when the process is gone). */
export function processHoldsSocket(pid: number, inode: number): boolean {
  const want = `socket:[${inode}]`;
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/**
 * The name of the process, among `candidates` (name → pid), that opened the
 * loopback connection from `clientPort` to `serverPort`; undefined when none
 * of them did (the test process itself, a client).
 */
export function connectionOwner(clientPort: number, serverPort: number, candidates: ReadonlyMap<string, number>): string | undefined {
  const inode = loopbackSocketInode(clientPort, serverPort);
  if (inode === undefined || inode === 0) return undefined;
  for (const [name, pid] of candidates) if (processHoldsSocket(pid, inode)) return name;
  return undefined;
}
