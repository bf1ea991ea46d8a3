/**
 * A separate OS process with a small Nest application on the cache module, for the fleet-wide
 * single-flight tests and benchmark. Started with `fork()` under `-r @swc-node/register`; on each
 * `go` message it makes `callers` concurrent reads of one cold key — through `getOrSet`, or through
 * a `@Cacheable` method — whose loader takes `loaderMs` and counts its runs in Redis.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cacheable, CacheModule, CacheRegistry, RedisClient } from '../../libs/cache/src';

export interface FleetWorkerConfig {
  redisUrl: string;
  namespace: string;
  /** Concurrent reads per `go`. */
  callers: number;
  loaderMs: number;
  via: 'getOrSet' | 'cacheable';
  /** The module option; the benchmark turns it off for its baseline. */
  fleetSingleFlight?: boolean;
}

export interface FleetGo {
  type: 'go';
  key: string;
  /** Redis key the loader increments on each run. */
  counter: string;
}

export type FleetWorkerMessage =
  | { type: 'ready' }
  | { type: 'done'; values: string[]; slowestMs: number; loads: number; fleetWaits: number }
  | { type: 'failed'; error: string };

const DOMAIN = 'screening';
let loader: (key: string) => Promise<string> = async () => 'not configured';

@Injectable()
class Screenings {
  @Cacheable({ cache: DOMAIN, key: (key: string) => key })
  read(key: string): Promise<string> {
    return loader(key);
  }
}

@Module({ providers: [Screenings] })
class WorkerModule {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function send(message: FleetWorkerMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]) as FleetWorkerConfig;
  const app = await NestFactory.createApplicationContext(
    {
      module: WorkerModule,
      imports: [
        CacheModule.forRoot({
          redis: { url: config.redisUrl },
          namespace: config.namespace,
          fleetSingleFlight: config.fleetSingleFlight,
        }),
      ],
    },
    { logger: false },
  );
  const redis = app.get(RedisClient);
  const cache = app.get(CacheRegistry).get<string>(DOMAIN);
  const screenings = app.get(Screenings);
  process.on('message', (message: FleetGo | { type: 'exit' }) => {
    if (message.type === 'exit') {
      void app.close().then(() => process.disconnect?.());
      return;
    }
    void stampede(message).catch((error: unknown) =>
      send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
  await send({ type: 'ready' });

  async function stampede({ key, counter }: FleetGo): Promise<void> {
    loader = async () => {
      await sleep(config.loaderMs);
      await redis.increment(counter);
      return `loaded by ${process.pid}`;
    };
    const before = cache.stats();
    const start = performance.now();
    let slowestMs = 0;
    const values = await Promise.all(
      Array.from({ length: config.callers }, async () => {
        const value =
          config.via === 'cacheable' ? await screenings.read(key) : await cache.getOrSet(key, () => loader(key));
        slowestMs = Math.max(slowestMs, performance.now() - start);
        return value;
      }),
    );
    const after = cache.stats();
    await send({
      type: 'done',
      values: [...new Set(values)],
      slowestMs,
      loads: after.loads - before.loads,
      fleetWaits: after.fleetWaits - before.fleetWaits,
    });
  }
}

main().catch(async (error: unknown) => {
  await send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
