/**
 * A separate OS process that uses LockService through a small Nest application, for the
 * multi-process lock tests. Started with `fork()` under `-r @swc-node/register` (which emits the
 * decorator metadata Nest's injection needs); instructions and results travel over IPC.
 *
 * Modes (argv[2] is a JSON `WorkerConfig`):
 * - `increment`: `count` read-modify-write increments of the shared SQLite counter under the lock,
 *   unfenced, with a random 0–1 ms pause between read and write: any overlap loses an update.
 * - `stale-holder`: takes the lock, reads the counter with its fencing token, reports `read`,
 *   then waits for a `write` message (the test stops this process in between) and tries to write
 *   with its old token.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CacheModule, type Lock, LockService } from '../../libs/cache/src';
import { FencedCounter } from './fenced-counter';

export interface WorkerConfig {
  mode: 'increment' | 'stale-holder';
  redisUrl: string;
  namespace: string;
  database: string;
  count?: number;
  ttl?: number;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'done'; increments: number }
  | { type: 'read'; token: number; value: number }
  | { type: 'result'; accepted: boolean; aborted: boolean; reasonCode?: string; released: boolean }
  | { type: 'failed'; error: string };

@Module({})
class WorkerModule {}

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}

function pause(): Promise<void> {
  return Math.random() < 0.5
    ? new Promise((resolve) => setImmediate(resolve))
    : new Promise((resolve) => setTimeout(resolve, 1));
}

function nextMessage(): Promise<unknown> {
  return new Promise((resolve) => process.once('message', resolve));
}

async function increment(locks: LockService, counter: FencedCounter, count: number): Promise<void> {
  let increments = 0;
  for (let i = 0; i < count; i++) {
    await locks.using(
      'counter',
      async () => {
        const value = counter.read();
        await pause();
        counter.write(value + 1);
        increments++;
      },
      { ttl: 5, wait: 60 },
    );
  }
  await send({ type: 'done', increments });
}

async function staleHolder(locks: LockService, counter: FencedCounter, ttl: number): Promise<void> {
  const lock: Lock = await locks.acquire('counter', { ttl, autoExtend: true, wait: 10 });
  const value = counter.readFenced(lock.fencingToken)!;
  const go = nextMessage();
  await send({ type: 'read', token: lock.fencingToken, value });
  await go;
  const accepted = counter.writeFenced(lock.fencingToken, value + 1);
  // The validity timer is overdue after the pause; give the event loop a turn to run it.
  if (!lock.signal.aborted) {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 2000);
      lock.signal.addEventListener('abort', () => resolve(clearTimeout(timer)), { once: true });
    });
  }
  const reason = lock.signal.reason as { code?: string } | undefined;
  const released = await lock.release();
  await send({ type: 'result', accepted, aborted: lock.signal.aborted, reasonCode: reason?.code, released });
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]) as WorkerConfig;
  const app = await NestFactory.createApplicationContext(
    {
      module: WorkerModule,
      imports: [CacheModule.forRoot({ redis: { url: config.redisUrl }, namespace: config.namespace })],
    },
    { logger: false },
  );
  const counter = new FencedCounter(config.database);
  try {
    const locks = app.get(LockService);
    const start = nextMessage();
    await send({ type: 'ready' });
    await start;
    if (config.mode === 'increment') await increment(locks, counter, config.count ?? 0);
    else await staleHolder(locks, counter, config.ttl ?? 1);
  } finally {
    counter.close();
    await app.close();
  }
}

main().then(
  () => process.disconnect?.(),
  async (error: unknown) => {
    await send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exitCode = 1;
    process.disconnect?.();
  },
);
