import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

const PINNED_ENV = 'ELILE_BENCH_PINNED';

export interface Pinning {
  /** Core of the benchmark process, or undefined when running unpinned. */
  benchCore?: number;
  /** Core for redis-server, or undefined when running unpinned. */
  redisCore?: number;
  reason?: string;
}

/**
 * Re-executes this script under `taskset -c <core>` with the same node flags and arguments, and
 * resolves with the child's exit code; resolves `undefined` in the process that should run the
 * benchmark (the pinned child, or this one when pinning is impossible).
 *
 * Why a re-exec: CPU affinity is inherited at exec, and node's own threads (GC helpers, libuv
 * pool) start before any script runs, so the whole process must be born pinned.
 */
export async function runPinned(
  benchCore: number,
  redisCore: number,
): Promise<{ exitCode?: number; pinning: Pinning }> {
  if (process.env[PINNED_ENV] === '1') return { pinning: { benchCore, redisCore } };
  if (process.env.BENCH_NO_PIN === '1') return { pinning: { reason: 'BENCH_NO_PIN=1' } };
  if (process.platform !== 'linux') return { pinning: { reason: `no taskset on ${process.platform}` } };
  if (availableParallelism() < 2) return { pinning: { reason: 'fewer than 2 CPUs available' } };

  const child = spawn(
    'taskset',
    ['-c', String(benchCore), process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    {
      stdio: 'inherit',
      env: { ...process.env, [PINNED_ENV]: '1' },
    },
  );
  // The child owns redis-server and must get to clean it up: this process only forwards signals
  // and waits (a Ctrl-C reaches both; the child treats a repeated signal as one).
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)));
    });
    return { exitCode, pinning: { benchCore, redisCore } };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return { pinning: { reason: 'taskset not found' } };
  } finally {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
  }
}
