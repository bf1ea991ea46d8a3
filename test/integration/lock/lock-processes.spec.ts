import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FencedCounter } from '../../support/fenced-counter';
import type { WorkerConfig, WorkerMessage } from '../../support/lock-worker';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { closeLockFixtures, redisLocks, timed } from './lock-fixture';

const ROOT = join(__dirname, '..', '..', '..');
const WORKER = join(ROOT, 'test', 'support', 'lock-worker.ts');

interface Worker {
  readonly child: ChildProcess;
  next<T extends WorkerMessage['type']>(type: T): Promise<Extract<WorkerMessage, { type: T }>>;
  send(message: string): void;
}

const children: ChildProcess[] = [];
let directory: string;
let database: string;
let namespace: string;

/** A lock-worker process; `next(type)` rejects when it reports a failure or exits first. */
function startWorker(config: Omit<WorkerConfig, 'redisUrl' | 'namespace' | 'database'>): Worker {
  const full: WorkerConfig = { ...config, redisUrl: testRedisUrl(), namespace, database };
  const child = fork(WORKER, [JSON.stringify(full)], {
    cwd: ROOT,
    execArgv: ['-r', '@swc-node/register'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  const inbox: WorkerMessage[] = [];
  let wake = (): void => undefined;
  let exited = false;
  child.on('message', (message: WorkerMessage) => {
    inbox.push(message);
    wake();
  });
  child.on('exit', () => {
    exited = true;
    wake();
  });
  return {
    child,
    send: (message) => child.send(message),
    async next(type) {
      for (;;) {
        const index = inbox.findIndex((message) => message.type === type || message.type === 'failed');
        if (index >= 0) {
          const [message] = inbox.splice(index, 1);
          if (message.type === 'failed') throw new Error(`lock worker failed: ${message.error}`);
          return message as never;
        }
        if (exited) throw new Error(`lock worker exited before sending "${type}"`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'elile-locks-'));
  database = join(directory, 'counter.db');
  namespace = uniqueNamespace('lock-processes');
  // Created once here, so the workers do not race to create the table.
  new FencedCounter(database).close();
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  }
  await closeLockFixtures();
  await deleteNamespace(testRedisUrl(), namespace);
  rmSync(directory, { recursive: true, force: true });
});

describe('locks across OS processes (real Redis, SQLite as the shared resource)', () => {
  it('mutual exclusion: 4 processes × 500 unfenced increments end at exactly 2000', async () => {
    const workers = Array.from({ length: 4 }, () => startWorker({ mode: 'increment', count: 500 }));
    await Promise.all(workers.map((worker) => worker.next('ready')));
    for (const worker of workers) worker.send('start');
    const done = await Promise.all(workers.map((worker) => worker.next('done')));

    expect(done.map((message) => message.increments)).toEqual([500, 500, 500, 500]);
    const counter = new FencedCounter(database);
    try {
      expect(counter.read()).toBe(2000);
    } finally {
      counter.close();
    }
  }, 60_000);

  it('a holder stopped past its TTL loses the lock: its late write is fenced off and its signal aborts', async () => {
    const stale = startWorker({ mode: 'stale-holder', ttl: 0.5 });
    await stale.next('ready');
    stale.send('start');
    const read = await stale.next('read');
    // A stopped process cannot extend: its lock expires in Redis while it believes it holds it.
    stale.child.kill('SIGSTOP');

    const counter = new FencedCounter(database);
    try {
      const { service } = await redisLocks({ namespace });
      const { value: lock, error } = await timed(service.acquire('counter', { ttl: 5, wait: 5 }));
      expect(error).toBeUndefined();
      expect(lock!.fencingToken).toBeGreaterThan(read.token);
      const value = counter.readFenced(lock!.fencingToken);
      expect(value).toBe(read.value);
      expect(counter.writeFenced(lock!.fencingToken, value! + 1)).toBe(true);
      await expect(lock!.release()).resolves.toBe(true);

      stale.child.kill('SIGCONT');
      stale.send('write');
      const result = await stale.next('result');

      expect(result).toEqual({
        type: 'result',
        accepted: false,
        aborted: true,
        reasonCode: 'ELILE_LOCK_LOST',
        released: false,
      });
      // Exactly one increment: the stale holder's write did not overwrite the new holder's.
      expect(counter.read()).toBe(read.value + 1);
      expect(counter.fence()).toBe(lock!.fencingToken);
    } finally {
      counter.close();
    }
  }, 60_000);
});
