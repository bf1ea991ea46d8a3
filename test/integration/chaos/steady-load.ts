import type { CacheService } from '@elile/cache';

/** One cached call of the load: when it started, how long it took, and what it got. */
export interface CallRecord {
  readonly startedAt: number;
  readonly ms: number;
  /** Served from the cache: the loader did not run for this call. */
  readonly hit: boolean;
  /** Rejected, or resolved with another key's value. */
  readonly failed: boolean;
}

export interface SteadyLoadOptions {
  callsPerSecond?: number;
  /** Distinct keys the calls cycle through. */
  keys?: number;
  /** How long the loader (the source of truth) takes. */
  loaderMs?: number;
}

/**
 * A steady stream of `getOrSet` calls on one cache, each recorded. Calls are issued on a 5 ms tick
 * and catch up when a tick comes late, so the rate holds while this process is busy.
 */
export class SteadyLoad {
  readonly records: CallRecord[] = [];
  readonly callsPerSecond: number;
  readonly loaderMs: number;
  private readonly keys: number;
  private readonly pending = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private issued = 0;
  private startedAt = 0;

  constructor(
    private readonly cache: CacheService<unknown>,
    options: SteadyLoadOptions = {},
  ) {
    this.callsPerSecond = options.callsPerSecond ?? 200;
    this.keys = options.keys ?? 200;
    this.loaderMs = options.loaderMs ?? 10;
  }

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => {
      const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.callsPerSecond);
      while (this.issued < due) this.call(this.issued++);
    }, 5);
  }

  /** Stops issuing calls and waits for those in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.pending]);
  }

  /** Calls that started in [from, to). */
  between(from: number, to = Infinity): CallRecord[] {
    return this.records.filter((record) => record.startedAt >= from && record.startedAt < to);
  }

  private call(n: number): void {
    const key = `k:${n % this.keys}`;
    const expected = n % this.keys;
    let loaded = false;
    const startedAt = performance.now();
    const work = this.cache
      .getOrSet(key, async () => {
        loaded = true;
        await new Promise((resolve) => setTimeout(resolve, this.loaderMs));
        return expected;
      })
      .then(
        (value) => ({ failed: value !== expected }),
        () => ({ failed: true }),
      )
      .then(({ failed }) => {
        this.records.push({ startedAt, ms: performance.now() - startedAt, hit: !loaded, failed });
      });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }
}

/** The p-th percentile (0-100) of the calls' durations, in ms; 0 for none. */
export function percentile(records: readonly CallRecord[], p: number): number {
  if (records.length === 0) return 0;
  const sorted = records.map((record) => record.ms).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function hitRatio(records: readonly CallRecord[]): number {
  return records.length === 0 ? 0 : records.filter((record) => record.hit).length / records.length;
}

/** Resolves when `predicate` holds, checked every 10 ms; rejects after `timeoutMs`. */
export async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<number> {
  const started = performance.now();
  while (!predicate()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now();
}
