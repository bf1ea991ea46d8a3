import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { FleetGo, FleetWorkerConfig, FleetWorkerMessage } from '../../support/fleet-worker';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { closeRaw, rawRedis } from '../cache-test-app';

const ROOT = join(__dirname, '..', '..', '..');
const WORKER = join(ROOT, 'test', 'support', 'fleet-worker.ts');
const PROCESSES = 4;
const CALLERS_PER_PROCESS = 250;
const LOADER_MS = 50;

const namespace = uniqueNamespace('fleet');
const children: ChildProcess[] = [];

interface Worker {
  next(type: FleetWorkerMessage['type']): Promise<FleetWorkerMessage>;
  send(message: FleetGo): void;
}

function startWorker(via: FleetWorkerConfig['via']): Worker {
  const config: FleetWorkerConfig = { redisUrl: testRedisUrl(), namespace, callers: CALLERS_PER_PROCESS, loaderMs: LOADER_MS, via };
  const child = fork(WORKER, [JSON.stringify(config)], {
    cwd: ROOT,
    execArgv: ['-r', '@swc-node/register'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  const inbox: FleetWorkerMessage[] = [];
  let wake = (): void => undefined;
  let exited = false;
  child.on('message', (message: FleetWorkerMessage) => {
    inbox.push(message);
    wake();
  });
  child.on('exit', () => {
    exited = true;
    wake();
  });
  return {
    send: (message) => child.send(message),
    async next(type) {
      for (;;) {
        const index = inbox.findIndex((message) => message.type === type || message.type === 'failed');
        if (index >= 0) {
          const [message] = inbox.splice(index, 1);
          if (message.type === 'failed') throw new Error(`worker failed: ${message.error}`);
          return message;
        }
        if (exited) throw new Error(`worker exited before sending "${type}"`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

afterAll(async () => {
  for (const child of children) if (child.connected) child.send({ type: 'exit' });
  await Promise.all(
    children.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)),
  );
  await deleteNamespace(testRedisUrl(), namespace);
});

describe.each(['getOrSet', 'cacheable'] as const)('Fleet-wide single flight through %s', (via) => {
  const workers: Worker[] = [];

  beforeAll(async () => {
    for (let i = 0; i < PROCESSES; i++) workers.push(startWorker(via));
    await Promise.all(workers.map((worker) => worker.next('ready')));
  }, 60_000);

  it(`${PROCESSES} processes × ${CALLERS_PER_PROCESS} concurrent reads of one cold key run its ${LOADER_MS} ms loader once`, async () => {
    const go: FleetGo = { type: 'go', key: `cold-${via}`, counter: `${namespace}loader-runs-${via}` };
    const done = workers.map((worker) => worker.next('done'));
    for (const worker of workers) worker.send(go);
    const reports = (await Promise.all(done)) as Array<Extract<FleetWorkerMessage, { type: 'done' }>>;

    const raw = rawRedis(testRedisUrl());
    try {
      expect(Number(await raw.get(go.counter))).toBe(1);
    } finally {
      await closeRaw(raw);
    }
    const values = new Set(reports.flatMap((report) => report.values));
    expect(values.size).toBe(1);
    expect(reports.reduce((sum, report) => sum + report.loads, 0)).toBe(1);
    // Every process but the loader's waited for its fill rather than loading.
    expect(reports.reduce((sum, report) => sum + report.fleetWaits, 0)).toBe(PROCESSES - 1);
    const slowest = Math.max(...reports.map((report) => report.slowestMs));
    console.log(
      `fleet single flight (${via}): ${PROCESSES * CALLERS_PER_PROCESS} callers, 1 loader run; ` +
        `slowest caller ${slowest.toFixed(1)} ms for a ${LOADER_MS} ms loader (+${(slowest - LOADER_MS).toFixed(1)} ms)`,
    );
  }, 30_000);
});
