import type { BenchContext, BenchRow, Target } from './subject';
import { type AsyncOp, median, sequentialLatencies, throughputs } from './timing';

/** One operation of a comparison: a baseline (no `baseline`) or ours, compared with one. */
export interface ComparedOp {
  operation: string;
  baseline?: string;
  targets?: Target[];
  fn: AsyncOp;
}

/**
 * Sequential latency and loaded throughput of operations that are compared with each other,
 * measured in alternating blocks (so all see the same background load), `config.repeats` times;
 * each row carries the median of the repeats and every repeat's figures.
 */
export async function compareOps(ctx: BenchContext, subject: string, ops: readonly ComparedOp[]): Promise<BenchRow[]> {
  const { config } = ctx;
  const samples = ops.map(() => ({ p50Us: [] as number[], p99Us: [] as number[], opsPerSec: [] as number[], cpuUsPerOp: [] as number[] }));
  const fns = ops.map((op) => op.fn);
  for (let r = 0; r < config.repeats; r++) {
    ctx.progress(`${subject}: repeat ${r + 1}/${config.repeats}, sequential latency`);
    const latencies = await sequentialLatencies(fns, {
      warmup: config.sequentialWarmup,
      samples: config.sequentialSamples,
      block: config.sequentialBlock,
    });
    ctx.progress(`${subject}: repeat ${r + 1}/${config.repeats}, ${config.inFlight} in flight`);
    const loads = await throughputs(fns, { total: config.throughputTotal, inFlight: config.inFlight, chunks: config.throughputChunks });
    for (const k of ops.keys()) {
      samples[k].p50Us.push(latencies[k].p50Us);
      samples[k].p99Us.push(latencies[k].p99Us);
      samples[k].opsPerSec.push(loads[k].opsPerSec);
      samples[k].cpuUsPerOp.push(loads[k].cpuUsPerOp);
    }
  }
  return ops.map((op, k) => ({
    operation: op.operation,
    baseline: op.baseline,
    targets: op.targets,
    p50Us: median(samples[k].p50Us),
    p99Us: median(samples[k].p99Us),
    opsPerSec: median(samples[k].opsPerSec),
    cpuUsPerOp: median(samples[k].cpuUsPerOp),
    samples: samples[k],
  }));
}
