import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { cacheServiceBench } from './cache-service.bench';
import { codecBench } from './codec.bench';
import { decoratorsBench } from './decorators.bench';
import { locksBench } from './locks.bench';
import { runPinned, type Pinning } from './helpers/pinning';
import { cpusAllowed, type RedisTarget, startRedis } from './helpers/redis-server';
import { watchHostLoad } from './helpers/host-load';
import { judge, renderReport, type ReportedSubject } from './helpers/report';
import { screeningReport } from './helpers/screening.fixture';
import type { BenchConfig, BenchSubject } from './helpers/subject';

/** Run order is table order. A new subject is one file exporting a `BenchSubject`, listed here. */
const SUBJECTS: BenchSubject[] = [cacheServiceBench, decoratorsBench, locksBench, codecBench];

/** Sized so that `npm run bench` stays under ~2 minutes on the 2-core CI machine. */
const CONFIG: BenchConfig =
  process.env.BENCH_QUICK === '1'
    ? { repeats: 1, sequentialWarmup: 500, sequentialSamples: 1000, sequentialBlock: 250, throughputTotal: 10_000, throughputChunks: 2, inFlight: 256 }
    : { repeats: 3, sequentialWarmup: 2_000, sequentialSamples: 5_000, sequentialBlock: 250, throughputTotal: 100_000, throughputChunks: 5, inFlight: 256 };

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
  if (subjects.length === 0) throw new Error(`No bench matches ${filters.join(', ')}; known: ${SUBJECTS.map((s) => s.name).join(', ')}`);

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
    const where = redis ? (redis.external ? `REDIS_URL ${redactedUrl(redis.url)}` : `redis-server ${redis.version} pid ${redis.pid} on CPUs ${redis.cpus}`) : 'no Redis';
    const pinned = pinning.benchCore === undefined ? `unpinned (${pinning.reason})` : `on CPUs ${cpusAllowed('self')}`;
    const library = libraryVersion();
    const code = library.commit ? `commit ${library.commit}${library.libsDirty ? ' + uncommitted changes in libs/' : ''}` : 'unknown commit';
    console.log(`Workload: screening report, ${jsonBytes} B as JSON. Library: ${code}.`);
    console.log(`Node ${process.version} ${pinned}; ${where}.`);

    const reported: ReportedSubject[] = [];
    for (const subject of subjects) {
      const start = performance.now();
      const result = await subject.run({ redisUrl: redis?.url ?? '', config: CONFIG, progress });
      reported.push(judge(subject.name, result, performance.now() - start));
    }
    progress('');
    const load = hostLoad();
    console.log(`\n${renderReport(reported)}`);
    if (load) {
      const skewed = load.otherCorePct + load.stealCorePct > 10 ? ' - figures may be skewed, rerun on a quiet host' : '';
      console.log(`\nHost load during the run: other processes ${load.otherCorePct}% of a core, steal ${load.stealCorePct}%${skewed}.`);
    }

    const results = {
      startedAt: startedAt.toISOString(),
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
        redis: redis && { url: redactedUrl(redis.url), external: redis.external, version: redis.version, cpus: redis.cpus },
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
