/**
 * Runs two applications of the module on ioredis 6 (its default RESP3) in this process and
 * reports whether instance B's near cache hears of instance A's write. Started by
 * test/integration/near/ioredis6.spec.ts with `fork()` under `-r @swc-node/register`.
 */
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useIoredisMajor } from '../../bench/helpers/ioredis-major';

useIoredisMajor(6);

async function main(): Promise<void> {
  const { Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { CacheModule, CacheRegistry } = await import('../../libs/cache/src');
  const [redisUrl, namespace] = process.argv.slice(2);
  @Module({})
  class WorkerModule {}
  const boot = () =>
    NestFactory.createApplicationContext(
      {
        module: WorkerModule,
        imports: [
          CacheModule.forRoot({ redis: { url: redisUrl }, namespace, domains: { near: { ttl: 60, l1: true } } }),
        ],
      },
      { logger: false },
    );
  const [a, b] = [await boot(), await boot()];
  try {
    const [onA, onB] = [a.get(CacheRegistry).get<string>('near'), b.get(CacheRegistry).get<string>('near')];
    await onA.set('k', 'old');
    const deadline = Date.now() + 5000;
    while (onB.stats().l1Hits === 0 && Date.now() < deadline) {
      await onB.get('k');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const kept = onB.stats().l1Hits > 0;
    const before = onB.stats().l1Invalidations;
    await onA.set('k', 'new');
    while (onB.stats().l1Invalidations === before && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    process.send!({
      ioredisMajor: Number(ioredisVersion().split('.')[0]),
      kept,
      invalidated: onB.stats().l1Invalidations > before,
      value: await onB.get('k'),
    });
  } finally {
    await a.close();
    await b.close();
  }
}

/** The version of the ioredis this process resolves `ioredis` to. */
function ioredisVersion(): string {
  const packageJson = join(require.resolve('ioredis').replace(/built[\\/].*$/, ''), 'package.json');
  return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
}

main().catch((error: unknown) => {
  process.send!({ error: String((error as Error)?.stack ?? error) });
});
