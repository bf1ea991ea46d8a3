import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, relative } from 'node:path';
import { cacheServiceBenches } from './cache-service.bench';
import { codecBench } from './codec.bench';
import { decoratorsBench } from './decorators.bench';
import { invalidationBench } from './invalidation.bench';
import { locksBench } from './locks.bench';
import { nearCacheBenches } from './near-cache.bench';
import { runPinned, type Pinning } from './helpers/pinning';
import { cpusAllowed, type RedisTarget, startRedis } from './helpers/redis-server';
import { watchHostLoad } from './helpers/host-load';
import { loadedRedisClients } from './helpers/redis-clients';
import { judge, renderReport, type ReportedSubject } from './helpers/report';
import { screeningReport } from './helpers/screening.fixture';
import type { BenchConfig, BenchSubject } from './helpers/subject';

/** Run order is table order. A new subject is one file exporting a `BenchSubject`, listed here. */
const SUBJECTS: BenchSubject[] = [
  ...cacheServiceBenches,
  ...nearCacheBenches,
  decoratorsBench,
  locksBench,
  invalidationBench,
  codecBench,
];

/**
 * Sized so that `npm run bench` stays within ~3 minutes on the 2-core CI machine. An even number
 * of pairs, so that as many pairs start with ours as with the baseline.
 */
const CONFIG: BenchConfig =
  process.env.BENCH_QUICK === '1'
    ? {
        repeats: 1,
        sequentialWarmup: 500,
        sequentialSamples: 1000,
        pairs: 8,
        sequentialBlock: 200,
        throughputBlock: 3_000,
        inFlight: 256,
      }
    : {
        repeats: 3,
        sequentialWarmup: 2_000,
        sequentialSamples: 5_000,
        pairs: 10,
        sequentialBlock: 500,
        throughputBlock: 10_000,
        inFlight: 256,
      };

// Separate cores for the two sides: sharing one, each request's latency includes a scheduler
// hand-off between node and redis-server, and the sequential figures flip between two modes.
const BENCH_CORE = 1;
const REDIS_CORE = 0;

const RESULTS_FILE = join(__dirname, 'results', 'latest.json');

function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message}`);
}

function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

/** How this run was started, so that a figure can be reproduced. */
function command(): string {
  const args = process.argv.slice(2);
  const env = ['BENCH_QUICK', 'BENCH_NO_PIN']
    .filter((name) => process.env[name] !== undefined)
    .map((name) => `${name}=${process.env[name]} `);
  if (process.env.REDIS_URL) env.push('REDIS_URL=... ');
  const launch =
    process.env.npm_lifecycle_event === 'bench'
      ? `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`
      : ['node', ...process.execArgv, relative(process.cwd(), process.argv[1]), ...args].join(' ');
  return env.join('') + launch;
}

/** The library changes between runs; a figure is only comparable with one of the same code. */
function libraryVersion(): { commit?: string; libsDirty?: boolean } {
  const git = (...args: string[]): string | undefined => {
    const result = spawnSync('git', args, { cwd: join(__dirname, '..'), encoding: 'utf8' });
    return result.status === 0 ? result.stdout.trim() : undefined;
  };
  const status = git('status', '--porcelain', '--', 'libs');
  return { commit: git('rev-parse', '--short', 'HEAD'), libsDirty: status === undefined ? undefined : status !== '' };
}

async function main(pinning: Pinning): Promise<void> {
  const filters = process.argv.slice(2);
  const subjects = filters.length ? SUBJECTS.filter((s) => filters.some((f) => s.name.includes(f))) : SUBJECTS;
  if (subjects.length === 0)
    throw new Error(`No bench matches ${filters.join(', ')}; known: ${SUBJECTS.map((s) => s.name).join(', ')}`);

  let redis: RedisTarget | undefined;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    // Ctrl-C reaches this process twice (from the terminal and forwarded by the launcher).
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping redis-server\n`);
    void (redis?.stop() ?? Promise.resolve()).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const startedAt = new Date();
  const hostLoad = watchHostLoad(() => (redis?.pid ? [redis.pid] : []));
  try {
    if (subjects.some((s) => s.needsRedis)) redis = await startRedis({ core: pinning.redisCore });
    const jsonBytes = Buffer.byteLength(JSON.stringify(screeningReport(1)));
    const where = redis
      ? redis.external
        ? `REDIS_URL ${redactedUrl(redis.url)}`
        : `redis-server ${redis.version} pid ${redis.pid} on CPUs ${redis.cpus}`
      : 'no Redis';
    const pinned =
      pinning.benchCore === undefined
        ? `not pinned (${pinning.reason})`
        : `pinned with taskset: this process on CPU ${cpusAllowed('self')}${redis && !redis.external ? `, redis-server on CPU ${redis.cpus}` : ''}`;
    const library = libraryVersion();
    const code = library.commit
      ? `commit ${library.commit}${library.libsDirty ? ' + uncommitted changes in libs/' : ''}`
      : 'unknown commit';
    console.log(`Command: ${command()}`);
    console.log(
      `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores (os.cpus()), ${availableParallelism()} allowed to this process; Node ${process.version}; ${pinned}.`,
    );
    console.log(`Redis: ${where}. Workload: screening report, ${jsonBytes} B as JSON. Library: ${code}.`);
    console.log(
      `Method: ${CONFIG.pairs} block pairs per comparison after ${CONFIG.sequentialWarmup} warm-up ops each; a pair is a block of ours and one of its baseline, ` +
        `order alternating A-B, B-A: ${CONFIG.sequentialBlock} sequential ops each (p50, p99), then ${CONFIG.throughputBlock} ops with ${CONFIG.inFlight} in flight each (ops/s, CPU us/op).`,
    );

    const reported: ReportedSubject[] = [];
    for (const subject of subjects) {
      const start = performance.now();
      const result = await subject.run({ redisUrl: redis?.url ?? '', config: CONFIG, progress });
      reported.push(judge(subject.name, result, performance.now() - start));
    }
    progress('');
    const load = hostLoad();
    const clients = loadedRedisClients();
    console.log(`\n${renderReport(reported)}`);
    const clientList = clients.map((c) => `${c.name} ${c.version ?? '?'} (${c.path})`).join(', ') || 'none';
    const alone =
      clients.length <= 1
        ? ''
        : ' - MORE THAN ONE: other clients can deoptimise msgpackr process-wide, figures not valid';
    console.log(`\nRedis client packages loaded in this process: ${clientList}${alone}.`);
    if (load) {
      const skewed =
        load.otherCorePct + load.stealCorePct > 10 ? ' - figures may be skewed, rerun on a quiet host' : '';
      console.log(
        `\nHost load during the run: other processes ${load.otherCorePct}% of a core, steal ${load.stealCorePct}%${skewed}.`,
      );
    }

    const results = {
      startedAt: startedAt.toISOString(),
      command: command(),
      durationMs: Math.round(Date.now() - startedAt.getTime()),
      library,
      environment: {
        node: process.version,
        v8: process.versions.v8,
        platform: `${process.platform} ${process.arch}`,
        cpu: cpus()[0]?.model,
        cpuCount: cpus().length,
        benchCpus: cpusAllowed('self'),
        pinning,
        hostLoad: load,
        redisClients: clients,
        redis: redis && {
          url: redactedUrl(redis.url),
          external: redis.external,
          version: redis.version,
          cpus: redis.cpus,
        },
      },
      config: CONFIG,
      workload: { kind: 'screening report', jsonBytes },
      subjects: reported,
      targets: reported.flatMap((s) =>
        s.rows.flatMap((row) => (row.verdicts ?? []).map((v) => ({ subject: s.name, operation: row.operation, ...v }))),
      ),
    };
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nResults: ${RESULTS_FILE} (${(results.durationMs / 1000).toFixed(1)} s)`);
  } finally {
    await redis?.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

void (async () => {
  const { exitCode, pinning } = await runPinned(BENCH_CORE, REDIS_CORE);
  if (exitCode !== undefined) {
    process.exitCode = exitCode;
    return;
  }
  await main(pinning);
})().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
