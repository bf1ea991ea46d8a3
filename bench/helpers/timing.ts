/**
 * Timing primitives. Callers report medians over many samples (repeats, or block pairs in
 * `compare-ops.ts`) because on a 2-core machine single samples wander by 10–20 % (frequency
 * scaling, other processes, interrupts).
 */

const nowNs = process.hrtime.bigint;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Nearest-rank percentile (p in 0..1) of an ascending array: always an observed value. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1];
}

export interface LatencySample {
  p50Us: number;
  p99Us: number;
}

export type AsyncOp = (i: number) => Promise<unknown>;

/** Latencies in µs of `count` awaited calls, one at a time, with indices from `first`. */
export async function sequentialBlock(op: AsyncOp, first: number, count: number): Promise<Float64Array> {
  const latencies = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const start = nowNs();
    await op(first + i);
    latencies[i] = Number(nowNs() - start) / 1e3;
  }
  return latencies;
}

/** p50 and p99 of one block; sorts `latencies` in place, as their order is of no further use. */
export function latencySample(latencies: Float64Array): LatencySample {
  latencies.sort();
  return { p50Us: percentile(latencies, 0.5), p99Us: percentile(latencies, 0.99) };
}

/** One operation alone: for subjects with no baseline to alternate with. */
export async function sequentialLatency(
  op: AsyncOp,
  options: { warmup: number; samples: number },
): Promise<LatencySample> {
  await sequentialBlock(op, 0, options.warmup);
  return latencySample(await sequentialBlock(op, 0, options.samples));
}

export interface ThroughputSample {
  opsPerSec: number;
  /**
   * CPU time of this process per operation (all threads, GC included). Unlike ops/s it hardly
   * moves when another process takes turns on the core, so it separates "slower code" from
   * "noisy host" when two runs disagree.
   */
  cpuUsPerOp: number;
}

const RAMP_OPS = 4;

/**
 * Throughput of `count` operations with `inFlight` outstanding at all times: each worker starts
 * the next operation as soon as its previous one settles, like a server under load.
 */
export async function loadedBlock(
  op: AsyncOp,
  first: number,
  count: number,
  inFlight: number,
): Promise<ThroughputSample> {
  // A short ramp first, so the measured window starts with the pipeline already full; distinct
  // indices per worker, so it does not pile `inFlight` concurrent calls onto a few keys.
  await Promise.all(
    Array.from({ length: inFlight }, async (_, w) => {
      for (let i = 0; i < RAMP_OPS; i++) await op(first + w * RAMP_OPS + i);
    }),
  );
  let next = first;
  const end = first + count;
  const worker = async (): Promise<void> => {
    while (next < end) await op(next++);
  };
  const cpuStart = process.cpuUsage();
  const start = nowNs();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const ns = Number(nowNs() - start);
  const cpu = process.cpuUsage(cpuStart);
  return { opsPerSec: count / (ns / 1e9), cpuUsPerOp: (cpu.user + cpu.system) / count };
}

/**
 * In-process cost of a synchronous call, CPU µs per call: the median of `repeats` loops. CPU time
 * rather than wall time, so that another process taking turns on the core does not count; the
 * loop length is calibrated to ~`loopMs`, far above the 1 µs resolution of `process.cpuUsage`.
 * `fn` returns something the loop folds into a sink so the JIT cannot drop the call.
 */
export function syncCost(
  fn: () => unknown,
  options: { repeats: number; loopMs?: number; warmupMs?: number },
): { usPerOp: number; samples: number[] } {
  const loopMs = options.loopMs ?? 40;
  let sink = 0;
  const fold = (value: unknown): void => {
    sink = (sink + (typeof value === 'object' && value !== null ? 1 : String(value).length)) | 0;
  };

  let iterations = 0;
  const warmupEnd = nowNs() + BigInt(Math.round((options.warmupMs ?? 150) * 1e6));
  const warmStart = nowNs();
  while (nowNs() < warmupEnd) {
    for (let i = 0; i < 100; i++) fold(fn());
    iterations += 100;
  }
  const perOpNs = Number(nowNs() - warmStart) / iterations;
  const loop = Math.max(100, Math.round((loopMs * 1e6) / perOpNs));

  const samples: number[] = [];
  for (let r = 0; r < options.repeats; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < loop; i++) fold(fn());
    const cpu = process.cpuUsage(start);
    samples.push((cpu.user + cpu.system) / loop);
  }
  if (sink === 0.5) console.error(sink);
  return { usPerOp: median(samples), samples };
}
