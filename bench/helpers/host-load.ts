import { readFileSync } from 'node:fs';

/**
 * CPU time used on the host by anything but this benchmark and its redis-server. On the 2-core
 * machine any such load lands on one of the two pinned cores and skews the figures, so the run
 * reports it instead of leaving a reader to guess why two runs differ.
 */
export interface HostLoad {
  /** Other processes' CPU time, as a percentage of one core over the run's wall time. */
  otherCorePct: number;
  /** Time the hypervisor took from this VM, same unit. */
  stealCorePct: number;
}

interface Snapshot {
  atMs: number;
  busy: number;
  steal: number;
  own: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ: Linux reports /proc times in 1/100 s on every common arch.

function processTicks(pid: number | 'self'): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime, all threads
  } catch {
    return 0;
  }
}

function snapshot(pids: readonly number[]): Snapshot | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = cpu;
    return {
      atMs: performance.now(),
      busy: user + nice + system + irq + softirq,
      steal: steal ?? 0,
      own: pids.reduce((sum, pid) => sum + processTicks(pid), processTicks('self')),
    };
  } catch {
    return undefined;
  }
}

/** Starts watching; call the result to read the load since then (undefined off Linux). */
export function watchHostLoad(pids: () => readonly number[]): () => HostLoad | undefined {
  const start = snapshot(pids());
  return () => {
    const end = snapshot(pids());
    if (!start || !end) return undefined;
    const cores = ((end.atMs - start.atMs) / 1000) * TICKS_PER_SECOND;
    const pct = (ticks: number): number => Math.max(0, Math.round((100 * ticks) / cores));
    return {
      otherCorePct: pct(end.busy - start.busy - (end.own - start.own)),
      stealCorePct: pct(end.steal - start.steal),
    };
  };
}
