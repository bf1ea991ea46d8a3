import type Redis from 'ioredis';
import { RecordingLogger } from '../../support/recording-logger';
import { type RedisServerHandle, startLocalRedisServer } from '../../support/redis-harness';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { type CacheApp, closeRaw, rawRedis, sleep, startCacheApp } from '../cache-test-app';
import { type CallRecord, hitRatio, percentile, SteadyLoad, until } from './steady-load';

/** The module's defaults: the suite measures what an application gets without tuning. */
const READ_DEADLINE_MS = 250;
const LOADER_MS = 10;
/** Room for this process's own scheduling on a shared CI machine, on top of deadline + loader. */
const SLACK_MS = 150;
const WARM_MS = 1_500;
const FAULT_MS = 3_000;
const RECOVERY_WINDOW_MS = 5_000;

interface Fault {
  readonly name: string;
  inject(): Promise<void> | void;
  /** Ends the fault; resolves when Redis answers again. */
  heal(): Promise<void> | void;
  /** How long the fault lasts between inject and heal. */
  readonly durationMs: number;
  /** Whether the fault must open the breaker (Redis gone or past the deadline), must not, or may. */
  readonly opensBreaker: boolean | 'may';
}

interface Figures {
  readonly calls: number;
  readonly failed: number;
  readonly during: number;
  readonly p99DuringMs: number;
  readonly slowDuring: number;
  readonly openedAfterMs?: number;
  readonly afterOpen: number;
  readonly p99AfterOpenMs: number;
  /** Calls that started after the breaker opened and still took longer than the read deadline. */
  readonly slowAfterOpen: number;
  readonly closedAfterHealMs?: number;
  readonly hitRatioBefore: number;
  readonly hitRatioDuring: number;
  readonly hitRatioRecovered: number;
  readonly breakerLines: { opened: number; halfOpen: number; closed: number };
}

describe('chaos: faults of Redis under a steady load of 200 cached calls/s', () => {
  let server: RedisServerHandle;
  let proxy: TcpProxy;
  let app: CacheApp;
  let admin: Redis;
  const logger = new RecordingLogger();

  beforeAll(async () => {
    server = await startLocalRedisServer({ debugCommand: true });
    proxy = await startTcpProxy(server.port);
    app = await startCacheApp({ namespace: 'chaos:', redis: { url: `redis://127.0.0.1:${proxy.port}` } }, logger);
    admin = rawRedis(server.url);
  });

  afterAll(async () => {
    await app?.close();
    await closeRaw(admin);
    await proxy?.close();
    await server?.stop();
  });

  async function underLoad(fault: Fault): Promise<Figures> {
    await app.main.clear().catch(() => 0);
    const linesBefore = logger.lines.length;
    const openedBefore = app.redis.breakerStatus().opened;
    const load = new SteadyLoad(app.main, { callsPerSecond: 200, keys: 200, loaderMs: LOADER_MS });
    load.start();
    await sleep(WARM_MS);

    const faultAt = performance.now();
    let openedAt: number | undefined;
    let watching = true;
    const watcher = (async () => {
      while (watching && openedAt === undefined) {
        if (app.redis.breakerStatus().opened > openedBefore) openedAt = performance.now();
        await sleep(5);
      }
    })();
    await fault.inject();
    await sleep(fault.durationMs);
    const healAt = performance.now();
    await fault.heal();
    watching = false;
    await watcher;
    const closedAt =
      openedAt === undefined
        ? undefined
        : await until('the breaker to close', () => app.redis.breakerStatus().state === 'closed', 10_000);
    await sleep(Math.max(0, healAt + RECOVERY_WINDOW_MS + 1_000 - performance.now()));
    await load.stop();

    const during = load.between(faultAt, healAt);
    // While it was open: from opening to closing (a restart is over before the breaker notices).
    const afterOpen = openedAt === undefined ? [] : load.between(openedAt, closedAt);
    const lines = logger.lines.slice(linesBefore);
    const count = (text: string) => lines.filter((line) => line.includes(text)).length;
    const figures: Figures = {
      calls: load.records.length,
      failed: load.records.filter((record) => record.failed).length,
      during: during.length,
      p99DuringMs: percentile(during, 99),
      slowDuring: slowerThan(during, READ_DEADLINE_MS + LOADER_MS + SLACK_MS),
      openedAfterMs: openedAt === undefined ? undefined : openedAt - faultAt,
      afterOpen: afterOpen.length,
      p99AfterOpenMs: percentile(afterOpen, 99),
      slowAfterOpen: slowerThan(afterOpen, READ_DEADLINE_MS),
      closedAfterHealMs: closedAt === undefined ? undefined : closedAt - healAt,
      hitRatioBefore: hitRatio(load.between(faultAt - 500, faultAt)),
      hitRatioDuring: hitRatio(during),
      hitRatioRecovered: hitRatio(load.between(healAt + RECOVERY_WINDOW_MS, healAt + RECOVERY_WINDOW_MS + 1_000)),
      breakerLines: {
        opened: count('circuit breaker opened'),
        halfOpen: count('circuit breaker half-open'),
        closed: count('circuit breaker closed'),
      },
    };
    console.log(
      `${fault.name}: ${JSON.stringify(figures, (_, value: unknown) => (typeof value === 'number' ? Math.round(value * 1000) / 1000 : value))}`,
    );

    expect(figures.failed).toBe(0);
    expect(figures.during).toBeGreaterThan(((fault.durationMs / 1000) * 200) / 2);
    // The p99 of a call during the fault is within the read deadline plus the loader's time.
    expect(figures.slowDuring).toBeLessThanOrEqual(Math.ceil(figures.during / 100));
    expect(figures.hitRatioBefore).toBeGreaterThan(0.9);
    expect(figures.hitRatioRecovered).toBeGreaterThan(0.9);
    if (fault.opensBreaker === true) expect(figures.openedAfterMs).toBeDefined();
    if (figures.openedAfterMs !== undefined) {
      // After the breaker opened, no call waited for a Redis deadline.
      expect(figures.afterOpen).toBeGreaterThan(0);
      expect(figures.slowAfterOpen).toBe(0);
      // State changes are logged once per outage, never per call. A flapping network is several
      // short outages (a probe can land between two cuts): a few full cycles, each logged once.
      const { opened, halfOpen, closed } = figures.breakerLines;
      expect({ halfOpen, closed }).toEqual({ halfOpen: opened, closed: opened });
      expect(opened).toBeGreaterThanOrEqual(1);
      expect(opened).toBeLessThanOrEqual(fault.name === 'flapping cuts' ? 4 : 1);
    } else if (fault.opensBreaker === false) {
      expect(app.redis.breakerStatus().opened).toBe(openedBefore);
      expect(figures.breakerLines).toEqual({ opened: 0, halfOpen: 0, closed: 0 });
    }
    return figures;
  }

  it('black-holed (the proxy holds every byte): the breaker opens, calls then cost the loader only', async () => {
    await underLoad({
      name: 'black hole',
      inject: () => proxy.stall(),
      heal: () => proxy.release(),
      durationMs: FAULT_MS,
      opensBreaker: true,
    });
  }, 60_000);

  it('slow within the read deadline (100 ms added per request): served from Redis, the breaker stays closed', async () => {
    await underLoad({
      name: 'slow, within the deadline',
      inject: () => proxy.setLatency(100),
      heal: () => proxy.setLatency(0),
      durationMs: FAULT_MS,
      opensBreaker: false,
    });
  }, 60_000);

  it('slow beyond the read deadline (400 ms added): the breaker opens', async () => {
    await underLoad({
      name: 'slow, past the deadline',
      inject: () => proxy.setLatency(400),
      heal: () => proxy.setLatency(0),
      durationMs: FAULT_MS,
      opensBreaker: true,
    });
  }, 60_000);

  it('CLIENT PAUSE ALL: the breaker opens, and closes once Redis serves again', async () => {
    await underLoad({
      name: 'CLIENT PAUSE',
      // It ends by itself: a CLIENT UNPAUSE sent meanwhile was held like every other command.
      inject: async () => {
        await admin.call('CLIENT', 'PAUSE', String(FAULT_MS), 'ALL');
      },
      heal: () => undefined,
      durationMs: FAULT_MS,
      opensBreaker: true,
    });
  }, 60_000);

  it('CLIENT PAUSE WRITE (reads answered, writes held): hits stay hits, nothing reaches the callers', async () => {
    const figures = await underLoad({
      name: 'CLIENT PAUSE WRITE',
      inject: async () => {
        await admin.call('CLIENT', 'PAUSE', String(FAULT_MS), 'WRITE');
      },
      heal: () => undefined,
      durationMs: FAULT_MS,
      // Reads keep answering, which resets the count: whether writes fail five in a row is timing.
      opensBreaker: 'may',
    });
    expect(figures.hitRatioDuring).toBeGreaterThan(0.9);
  }, 60_000);

  it('DEBUG SLEEP longer than the read deadline: the breaker opens', async () => {
    let sleeping: Promise<unknown> = Promise.resolve();
    await underLoad({
      name: 'DEBUG SLEEP',
      inject: () => {
        sleeping = admin.call('DEBUG', 'SLEEP', String(FAULT_MS / 1000));
      },
      heal: async () => {
        await sleeping;
      },
      durationMs: FAULT_MS - 200,
      opensBreaker: true,
    });
  }, 60_000);

  it('redis-server restarted (SIGKILL, empty dataset): the hit ratio comes back by itself', async () => {
    await underLoad({
      name: 'restart',
      inject: () => server.restart(),
      heal: () => undefined,
      durationMs: 0,
      opensBreaker: true,
    });
  }, 60_000);

  it('connections cut every 250 ms for 3 s (flapping network): nothing reaches the callers', async () => {
    let cutter: NodeJS.Timeout | undefined;
    const figures = await underLoad({
      name: 'flapping cuts',
      inject: () => {
        proxy.cutAll();
        cutter = setInterval(() => proxy.cutAll(), 250);
      },
      heal: () => clearInterval(cutter),
      durationMs: FAULT_MS,
      // Cuts fail commands at once, so whether five fail in a row is up to timing: either is fine.
      opensBreaker: 'may',
    }).catch((error: unknown) => {
      clearInterval(cutter);
      throw error;
    });
    expect(figures.failed).toBe(0);
  }, 60_000);
});

function slowerThan(records: readonly CallRecord[], ms: number): number {
  return records.filter((record) => record.ms > ms).length;
}
