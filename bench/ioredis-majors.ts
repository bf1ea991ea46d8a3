import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, relative } from 'node:path';
import type { ChildResult, ChildTask } from './ioredis-majors.child';
import { runPinned } from './helpers/pinning';
import { cpusAllowed, type RedisTarget, startRedis } from './helpers/redis-server';
import { watchHostLoad } from './helpers/host-load';
import type { BenchConfig } from './helpers/subject';
import { fmt, renderTable, type TableLine } from './helpers/table';
import { median } from './helpers/timing';

/**
 * The product's get/set path under ioredis 5 and under ioredis 6 (a peer of the package, so users
 * bring either). ioredis 6, once loaded, slows msgpackr down for the whole process (a V8
 * deoptimisation), so each major runs in processes of its own: a block is one child process that
 * loads one major for the library and for its baseline (raw ioredis of the same major, in the same
 * process). Blocks of the variants alternate in rotating order, round after round, on one Redis.
 *
 *   npm run bench:ioredis-majors     (BENCH_QUICK=1: 3 rounds instead of 6)
 */

interface Variant {
  id: string;
  major: number;
  ioredis: Record<string, unknown>;
}

const VARIANTS: Variant[] = [
  { id: 'ioredis 5', major: 5, ioredis: {} },
  { id: 'ioredis 6', major: 6, ioredis: {} },
  { id: 'ioredis 6, protocol: 2', major: 6, ioredis: { protocol: 2 } },
];

const QUICK = process.env.BENCH_QUICK === '1';
/** A multiple of the variant count, so each variant runs in each position equally often. */
const ROUNDS = QUICK ? 3 : 6;
const CHILD_CONFIG: BenchConfig = QUICK
  ? {
      repeats: 1,
      sequentialWarmup: 300,
      sequentialSamples: 0,
      pairs: 2,
      sequentialBlock: 200,
      throughputBlock: 3_000,
      inFlight: 256,
    }
  : {
      repeats: 1,
      sequentialWarmup: 1_000,
      sequentialSamples: 0,
      pairs: 4,
      sequentialBlock: 400,
      throughputBlock: 8_000,
      inFlight: 256,
    };

const BENCH_CORE = 1;
const REDIS_CORE = 0;
const RESULTS_FILE = join(__dirname, 'results', 'ioredis-majors.json');
const CHILD = join(__dirname, 'ioredis-majors.child.ts');

function command(): string {
  const env = ['BENCH_QUICK', 'BENCH_NO_PIN']
    .filter((name) => process.env[name] !== undefined)
    .map((name) => `${name}=${process.env[name]} `);
  return env.join('') + ['node', ...process.execArgv, relative(process.cwd(), process.argv[1])].join(' ');
}

function runChild(task: ChildTask): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    // Same node flags (the TypeScript loader); the pinned CPU is inherited.
    const child = spawn(process.execPath, [...process.execArgv, CHILD], {
      env: { ...process.env, ELILE_BENCH_TASK: JSON.stringify(task) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`ioredis ${task.major} block exited with ${code}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as ChildResult);
    });
  });
}

interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

const ratio = (s: Spread | undefined): string =>
  s ? `${fmt.ratio(s.median)} (${s.min.toFixed(2)}-${s.max.toFixed(2)})` : '';
const figure = (s: Spread | undefined, format: (v: number) => string): string =>
  s ? `${format(s.median)} (${format(s.min)}-${format(s.max)})` : '';

async function main(benchCore: number | undefined, redisCore: number | undefined): Promise<void> {
  let redis: RedisTarget | undefined;
  const hostLoad = watchHostLoad(() => (redis?.pid ? [redis.pid] : []));
  try {
    redis = await startRedis({ core: redisCore });
    console.log(`Command: ${command()}`);
    console.log(
      `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${availableParallelism()} allowed; Node ${process.version}; ` +
        (benchCore === undefined
          ? 'not pinned'
          : `blocks on CPU ${cpusAllowed('self')}, redis-server ${redis.version} on CPU ${redis.cpus}`) +
        '.',
    );
    console.log(
      `Method: ${ROUNDS} rounds; a round runs one block (a child process) per variant, in rotating order. In a block, after ` +
        `${CHILD_CONFIG.sequentialWarmup} warm-up calls per operation, ${CHILD_CONFIG.pairs} pairs per operation of one block of it and one ` +
        `of its raw baseline (${CHILD_CONFIG.sequentialBlock} sequential calls: p50; ${CHILD_CONFIG.throughputBlock} calls, ${CHILD_CONFIG.inFlight} in flight: ops/s).`,
    );

    const results = new Map<string, ChildResult[]>(VARIANTS.map((v) => [v.id, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = VARIANTS.map((_, k) => VARIANTS[(k + round) % VARIANTS.length]);
      for (const variant of order) {
        process.stderr.write(`round ${round + 1}/${ROUNDS}: ${variant.id}\n`);
        const result = await runChild({
          redisUrl: redis.url,
          major: variant.major,
          ioredis: variant.ioredis,
          namespace: `bench-majors-${round}-${VARIANTS.indexOf(variant)}:`,
          config: CHILD_CONFIG,
        });
        const versions = result.clients.map((c) => `${c.name}@${c.version}`);
        if (result.clients.length !== 1 || !result.clients[0].version?.startsWith(`${variant.major}.`)) {
          throw new Error(
            `${variant.id}: the block loaded ${versions.join(', ') || 'no ioredis'}, not one ioredis ${variant.major}`,
          );
        }
        if (!result.sanity.sameValues || result.sanity.misses > 0 || result.sanity.errors > 0) {
          throw new Error(`${variant.id}: sanity failed: ${JSON.stringify(result.sanity)}`);
        }
        results.get(variant.id)!.push(result);
      }
    }

    const operations = results.get(VARIANTS[0].id)![0].rows.map((row) => row.operation);
    const lines: TableLine[] = [];
    const summary: Record<string, unknown> = {};
    for (const variant of VARIANTS) {
      const blocks = results.get(variant.id)!;
      const first = blocks[0];
      lines.push({
        section: `${variant.id}: ioredis ${first.ioredisVersion}, RESP${String(first.protocol)}; default codec wrote ${first.sanity.shippedCodec['JSON-native']} (JSON-native) and ${first.sanity.shippedCodec.rich} (rich) entries`,
      });
      const byOperation: Record<string, unknown> = {};
      for (const operation of operations) {
        const rows = blocks.map((block) => block.rows.find((row) => row.operation === operation)!);
        const p50 = spread(rows.map((row) => row.p50Us!));
        const ops = spread(rows.map((row) => row.opsPerSec!));
        const base = rows[0].baseline !== undefined;
        const p50Ratio = base ? spread(rows.flatMap((row) => row.pairRatios?.p50Us ?? [])) : undefined;
        const opsRatio = base ? spread(rows.flatMap((row) => row.pairRatios?.opsPerSec ?? [])) : undefined;
        // Against ioredis 5, round by round: blocks of one round ran seconds apart.
        const reference = results
          .get(VARIANTS[0].id)!
          .map((block) => block.rows.find((row) => row.operation === operation)!);
        const vsFive = variant.major === 5 ? undefined : spread(rows.map((row, r) => row.p50Us! / reference[r].p50Us!));
        const vsFiveOps =
          variant.major === 5 ? undefined : spread(rows.map((row, r) => row.opsPerSec! / reference[r].opsPerSec!));
        lines.push([
          base ? `  ${operation}` : operation,
          figure(p50, fmt.us),
          figure(ops, fmt.count),
          ratio(p50Ratio),
          ratio(opsRatio),
          ratio(vsFive),
          ratio(vsFiveOps),
        ]);
        byOperation[operation] = {
          p50Us: p50,
          opsPerSec: ops,
          p50VsRaw: p50Ratio,
          opsVsRaw: opsRatio,
          p50VsIoredis5: vsFive,
          opsVsIoredis5: vsFiveOps,
        };
      }
      for (const name of Object.keys(first.codecUs)) {
        const cost = spread(blocks.map((block) => block.codecUs[name]));
        const reference = results.get(VARIANTS[0].id)!.map((block) => block.codecUs[name]);
        const vsFive =
          variant.major === 5 ? undefined : spread(blocks.map((block, r) => block.codecUs[name] / reference[r]));
        lines.push([`${name} (CPU us/call, no Redis)`, figure(cost, fmt.us), '', '', '', ratio(vsFive), '']);
        byOperation[name] = { cpuUs: cost, vsIoredis5: vsFive };
      }
      summary[variant.id] = byOperation;
    }

    console.log(
      `\n${renderTable(
        [
          { header: 'operation', align: 'left' },
          { header: 'p50 us (min-max)' },
          { header: 'ops/s (min-max)' },
          { header: 'p50 x raw' },
          { header: 'ops/s x raw' },
          { header: 'p50 x ioredis 5' },
          { header: 'ops/s x ioredis 5' },
        ],
        lines,
      )}`,
    );
    console.log(
      `\nFigures: median over the ${ROUNDS} blocks of each variant, (min-max) over the blocks. "x raw": ours / raw ioredis of the same major ` +
        `in the same process, median and spread of the per-pair ratios. "x ioredis 5": this variant's block / ioredis 5's block of the same round.`,
    );
    const load = hostLoad();
    if (load)
      console.log(
        `Host load during the run: other processes ${load.otherCorePct}% of a core, steal ${load.stealCorePct}%.`,
      );

    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(
      RESULTS_FILE,
      `${JSON.stringify({ command: command(), node: process.version, rounds: ROUNDS, config: CHILD_CONFIG, hostLoad: load, summary, blocks: Object.fromEntries(results) }, null, 2)}\n`,
    );
    console.log(`Results: ${RESULTS_FILE}`);
  } finally {
    await redis?.stop();
  }
}

void (async () => {
  const { exitCode, pinning } = await runPinned(BENCH_CORE, REDIS_CORE);
  if (exitCode !== undefined) {
    process.exitCode = exitCode;
    return;
  }
  await main(pinning.benchCore, pinning.redisCore);
})().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
