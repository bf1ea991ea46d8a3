/**
 * Timing primitives. Every figure is the median over `repeats` samples because on a 2-core
 * machine single samples wander by 10–20 % (frequency scaling, other processes, interrupts).
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

/**
 * Sequential latency (one awaited operation at a time) of several operations, measured in
 * alternating blocks of `block` operations. The figures that matter are ratios against a
 * baseline, and on a shared 2-core host the background load changes over seconds: alternating
 * puts every operation under the same load, where back-to-back runs of 5000 would not.
 */
export async function sequentialLatencies(
  ops: readonly AsyncOp[],
  options: { warmup: number; samples: number; block: number },
): Promise<LatencySample[]> {
  for (const op of ops) for (let i = 0; i < options.warmup; i++) await op(i);
  const latencies = ops.map(() => new Float64Array(options.samples));
  for (let first = 0; first < options.samples; first += options.block) {
    const last = Math.min(options.samples, first + options.block);
    for (const [k, op] of ops.entries()) {
      for (let i = first; i < last; i++) {
        const start = nowNs();
        await op(i);
        latencies[k][i] = Number(nowNs() - start) / 1e3;
      }
    }
  }
  return latencies.map((sample) => {
    sample.sort();
    return { p50Us: percentile(sample, 0.5), p99Us: percentile(sample, 0.99) };
  });
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

/**
 * Throughput of several operations, each run for `total` operations with `inFlight` outstanding
 * at all times (each worker starts the next operation as soon as its previous one settles, like a
 * server under load). The total is split into `chunks` that alternate between the operations,
 * for the same reason as in {@link sequentialLatencies}.
 */
export async function throughputs(
  ops: readonly AsyncOp[],
  options: { total: number; inFlight: number; chunks: number },
): Promise<ThroughputSample[]> {
  const totals = ops.map(() => ({ ops: 0, ns: 0, cpuUs: 0 }));
  const perChunk = Math.ceil(options.total / options.chunks);
  for (let done = 0; done < options.total; done += perChunk) {
    const count = Math.min(perChunk, options.total - done);
    for (const [k, op] of ops.entries()) {
      const run = await saturate(op, done, count, options.inFlight);
      totals[k].ops += count;
      totals[k].ns += run.ns;
      totals[k].cpuUs += run.cpuUs;
    }
  }
  return totals.map((t) => ({ opsPerSec: t.ops / (t.ns / 1e9), cpuUsPerOp: t.cpuUs / t.ops }));
}

/** One operation alone: for subjects with no baseline to alternate with. */
export async function sequentialLatency(op: AsyncOp, options: { warmup: number; samples: number }): Promise<LatencySample> {
  const [sample] = await sequentialLatencies([op], { ...options, block: options.samples });
  return sample;
}

const RAMP_OPS = 4;

async function saturate(op: AsyncOp, first: number, count: number, inFlight: number): Promise<{ ns: number; cpuUs: number }> {
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
  return { ns, cpuUs: cpu.user + cpu.system };
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
