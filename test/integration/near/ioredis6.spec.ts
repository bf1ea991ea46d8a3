import { fork } from 'node:child_process';
import { join } from 'node:path';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

const ROOT = join(__dirname, '..', '..', '..');
const namespace = uniqueNamespace('ioredis6-near');

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

// ioredis 6 speaks RESP3 by default, where invalidations redirected to the tracking connection
// itself arrive as push frames it does not emit: the channel looked up and delivered nothing.
it('keeps near caches coherent on ioredis 6 too', async () => {
  const child = fork(join(ROOT, 'test', 'support', 'ioredis6-near-worker.ts'), [testRedisUrl(), namespace], {
    cwd: ROOT,
    execArgv: ['-r', '@swc-node/register'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const report = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('message', (message) => resolve(message as Record<string, unknown>));
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) without a report`)));
  });
  await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)));
  expect(report.error).toBeUndefined();
  expect(report).toMatchObject({ ioredisMajor: 6, kept: true, invalidated: true, value: 'new' });
}, 60_000);
