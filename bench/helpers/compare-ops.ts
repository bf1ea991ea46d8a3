import type { BenchContext, BenchRow, Target } from './subject';
import { type AsyncOp, latencySample, loadedBlock, median, sequentialBlock } from './timing';

/** One operation of a comparison: a baseline (no `baseline`) or ours, compared with one. */
export interface ComparedOp {
  operation: string;
  baseline?: string;
  targets?: Target[];
  fn: AsyncOp;
}

type Metric = Target['metric'];
type Figures = Partial<Record<Metric, number>>;

const METRICS: readonly Metric[] = ['p50Us', 'p99Us', 'opsPerSec', 'cpuUsPerOp'];

/**
 * Sequential latency and loaded throughput of operations against their baselines, in block pairs:
 * `config.pairs` times for each operation that names a baseline, one block of it and one of the
 * baseline back to back. The ratio of a pair compares two blocks that ran under the same load of
 * the host, which on a shared machine changes from one second to the next; the ratio of two
 * figures averaged over a whole run does not. The order alternates (A-B, B-A, ...) so that neither
 * side always runs first, after the other's garbage or in a load that is rising.
 *
 * Each row carries the median of its blocks' figures and every block's figures; a row compared
 * with a baseline also carries its per-pair ratios, which the report reduces to their median and
 * spread. A baseline gets a block in every pair of every operation compared with it.
 */
export async function compareOps(ctx: BenchContext, subject: string, ops: readonly ComparedOp[]): Promise<BenchRow[]> {
  const { config } = ctx;
  const indexOf = new Map(ops.map((op, k) => [op.operation, k]));
  const pairs = ops.flatMap((op, ours) => {
    if (op.baseline === undefined) return [];
    const base = indexOf.get(op.baseline);
    if (base === undefined) throw new Error(`${subject}: "${op.operation}" names unknown baseline "${op.baseline}"`);
    return [{ ours, base }];
  });
  const unmeasured = ops.filter((op, k) => op.baseline === undefined && !pairs.some((pair) => pair.base === k));
  if (unmeasured.length)
    throw new Error(`${subject}: nothing is compared with ${unmeasured.map((op) => `"${op.operation}"`).join(', ')}`);

  const blocks = ops.map(() => Object.fromEntries(METRICS.map((m) => [m, [] as number[]])) as Record<Metric, number[]>);
  const ratios = ops.map(() => Object.fromEntries(METRICS.map((m) => [m, [] as number[]])) as Record<Metric, number[]>);
  const runPair = async (
    pair: { ours: number; base: number },
    oursFirst: boolean,
    measure: (op: AsyncOp) => Promise<Figures>,
  ) => {
    const figures = new Map<number, Figures>();
    for (const k of oursFirst ? [pair.ours, pair.base] : [pair.base, pair.ours])
      figures.set(k, await measure(ops[k].fn));
    const ours = figures.get(pair.ours) as Figures;
    const base = figures.get(pair.base) as Figures;
    for (const m of METRICS) {
      const oursValue = ours[m];
      const baseValue = base[m];
      if (oursValue === undefined || baseValue === undefined) continue;
      blocks[pair.ours][m].push(oursValue);
      blocks[pair.base][m].push(baseValue);
      ratios[pair.ours][m].push(oursValue / baseValue);
    }
  };

  for (const op of ops) await sequentialBlock(op.fn, 0, config.sequentialWarmup);
  for (let r = 0; r < config.pairs; r++) {
    const oursFirst = r % 2 === 1;
    ctx.progress(`${subject}: pair ${r + 1}/${config.pairs}, sequential latency`);
    const sequentialFirst = r * config.sequentialBlock;
    for (const pair of pairs) {
      await runPair(pair, oursFirst, async (fn) =>
        latencySample(await sequentialBlock(fn, sequentialFirst, config.sequentialBlock)),
      );
    }
    ctx.progress(`${subject}: pair ${r + 1}/${config.pairs}, ${config.inFlight} in flight`);
    const loadedFirst = r * config.throughputBlock;
    for (const pair of pairs) {
      await runPair(pair, oursFirst, (fn) => loadedBlock(fn, loadedFirst, config.throughputBlock, config.inFlight));
    }
  }

  return ops.map((op, k) => ({
    operation: op.operation,
    baseline: op.baseline,
    targets: op.targets,
    p50Us: median(blocks[k].p50Us),
    p99Us: median(blocks[k].p99Us),
    opsPerSec: median(blocks[k].opsPerSec),
    cpuUsPerOp: median(blocks[k].cpuUsPerOp),
    samples: blocks[k],
    pairRatios: op.baseline === undefined ? undefined : ratios[k],
  }));
}
