// Samples a process's resident memory (VmRSS from /proc/<pid>/status) and CPU
// time (utime + stime from /proc/<pid>/stat) while a run goes on: the broker's
// memory bound is checked on the real process, and CPU use says whether a
// figure is bound by the cores rather than the disk or the network.

import fs from "node:fs";

/** Linux reports CPU times in clock ticks; USER_HZ is 100 on every mainstream kernel config. */
const CLOCK_TICKS_PER_SEC = 100;

export interface ProcSample {
  rssBytes: number;
  /** Parts of RSS: anonymous (heaps, SharedArrayBuffers), file-backed (mapped files), shared memory. */
  rssAnonBytes: number;
  rssFileBytes: number;
  rssShmemBytes: number;
  cpuSec: number;
}

/** One sample, or undefined when the process is gone or /proc is not there. */
export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kB = (field: string) => {
      const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status);
      return m === null ? 0 : Number(m[1]) * 1024;
    };
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return {
      rssBytes: kB("VmRSS"),
      rssAnonBytes: kB("RssAnon"),
      rssFileBytes: kB("RssFile"),
      rssShmemBytes: kB("RssShmem"),
      cpuSec: (utime + stime) / CLOCK_TICKS_PER_SEC,
    };
  } catch {
    return undefined;
  }
}

/** CPU seconds per thread (tid → name and CPU seconds), from /proc/<pid>/task. */
export function sampleThreads(pid: number): Map<number, { name: string; cpuSec: number }> {
  const out = new Map<number, { name: string; cpuSec: number }>();
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(tid), { name, cpuSec: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC });
    } catch {
      // the thread ended between readdir and read
    }
  }
  return out;
}

/** Busy and total CPU seconds of the whole machine (all cores) from /proc/stat. */
export function sampleMachine(): { busySec: number; totalSec: number } | undefined {
  try {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0];
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = v[3] + v[4];
    return { busySec: (total - idle) / CLOCK_TICKS_PER_SEC, totalSec: total / CLOCK_TICKS_PER_SEC };
  } catch {
    return undefined;
  }
}

export interface ThreadUsage {
  tid: number;
  name: string;
  /** CPU seconds over the run / wall seconds. */
  cores: number;
}

export interface ProcUsage {
  pid: number;
  rssMaxBytes: number;
  /** The sample with the largest RSS (its anon/file/shmem split says what the memory is). */
  rssMaxSample: ProcSample | undefined;
  rssLastBytes: number;
  /** CPU seconds used between start() and stop(). */
  cpuSec: number;
  /** cpuSec / wall seconds: 1.0 = one core busy all the time. */
  cores: number;
  samples: number;
  /** The busiest threads, most first (a thread near 1.0 core is a single-thread bound). */
  threads: ThreadUsage[];
  /** Cores busy on the whole machine meanwhile (every process: this run's and anyone else's). */
  machineBusyCores: number | null;
}

export class ProcSampler {
  private readonly pid: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private first: ProcSample | undefined;
  private last: ProcSample | undefined;
  private startMs = 0;
  private threadsAtStart = new Map<number, { name: string; cpuSec: number }>();
  private machineAtStart: { busySec: number; totalSec: number } | undefined;
  private stopMs = 0;
  private rssMax = 0;
  private rssMaxSample: ProcSample | undefined;
  private samples = 0;

  constructor(pid: number) {
    this.pid = pid;
  }

  start(intervalMs = 200): void {
    this.startMs = performance.now();
    this.first = sampleProc(this.pid);
    this.threadsAtStart = sampleThreads(this.pid);
    this.machineAtStart = sampleMachine();
    this.take();
    this.timer = setInterval(() => this.take(), intervalMs);
  }

  /** Call during the run's busiest moment too (for example just before load stops). */
  take(): void {
    const sample = sampleProc(this.pid);
    if (sample === undefined) return;
    this.last = sample;
    this.samples++;
    if (sample.rssBytes > this.rssMax) {
      this.rssMax = sample.rssBytes;
      this.rssMaxSample = sample;
    }
  }

  stop(): ProcUsage {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.take();
    this.stopMs = performance.now();
    const threadsNow = sampleThreads(this.pid);
    const machineNow = sampleMachine();
    const cpuSec = this.first !== undefined && this.last !== undefined ? this.last.cpuSec - this.first.cpuSec : 0;
    const wallSec = Math.max(1e-3, (this.stopMs - this.startMs) / 1000);
    return {
      pid: this.pid,
      rssMaxBytes: this.rssMax,
      rssMaxSample: this.rssMaxSample,
      rssLastBytes: this.last?.rssBytes ?? 0,
      cpuSec,
      cores: cpuSec / wallSec,
      samples: this.samples,
      machineBusyCores:
        this.machineAtStart === undefined || machineNow === undefined
          ? null
          : Math.round(((machineNow.busySec - this.machineAtStart.busySec) / wallSec) * 100) / 100,
      threads: [...threadsNow]
        .map(([tid, t]) => ({ tid, name: t.name, cores: (t.cpuSec - (this.threadsAtStart.get(tid)?.cpuSec ?? 0)) / wallSec }))
        .filter((t) => t.cores >= 0.01)
        .sort((a, b) => b.cores - a.cores)
        .slice(0, 8)
        .map((t) => ({ ...t, cores: Math.round(t.cores * 100) / 100 })),
    };
  }
}
