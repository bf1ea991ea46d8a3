import type { FleetWorkerConfig } from '../../support/fleet-worker';
import { type FleetWorker, stampede, startFleetWorker } from '../../support/fleet-workers';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { closeRaw, rawRedis } from '../cache-test-app';

const PROCESSES = 4;
const CALLERS_PER_PROCESS = 250;
const LOADER_MS = 50;

const namespace = uniqueNamespace('fleet');

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

describe.each(['getOrSet', 'cacheable'] as const)('Fleet-wide single flight through %s', (via) => {
  const workers: FleetWorker[] = [];

  beforeAll(async () => {
    const config: FleetWorkerConfig = {
      redisUrl: testRedisUrl(),
      namespace,
      callers: CALLERS_PER_PROCESS,
      loaderMs: LOADER_MS,
      via,
    };
    for (let i = 0; i < PROCESSES; i++) workers.push(startFleetWorker(config));
    await Promise.all(workers.map((worker) => worker.next('ready')));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });

  it(`${PROCESSES} processes × ${CALLERS_PER_PROCESS} concurrent reads of one cold key run its ${LOADER_MS} ms loader once`, async () => {
    const counter = `${namespace}loader-runs-${via}`;
    const reports = await stampede(workers, { type: 'go', key: `cold-${via}`, counter });

    const raw = rawRedis(testRedisUrl());
    try {
      expect(Number(await raw.get(counter))).toBe(1);
    } finally {
      await closeRaw(raw);
    }
    const values = new Set(reports.flatMap((report) => report.values));
    expect(values.size).toBe(1);
    expect(reports.reduce((sum, report) => sum + report.loads, 0)).toBe(1);
    // The other processes waited for its fill rather than loading (one that started after the
    // fill had landed just read it).
    const waits = reports.reduce((sum, report) => sum + report.fleetWaits, 0);
    expect(waits).toBeGreaterThanOrEqual(1);
    expect(waits).toBeLessThanOrEqual(PROCESSES - 1);
    const slowest = Math.max(...reports.map((report) => report.slowestMs));
    console.log(
      `fleet single flight (${via}): ${PROCESSES * CALLERS_PER_PROCESS} callers, 1 loader run; ` +
        `slowest caller ${slowest.toFixed(1)} ms for a ${LOADER_MS} ms loader (+${(slowest - LOADER_MS).toFixed(1)} ms)`,
    );
  }, 30_000);
});
