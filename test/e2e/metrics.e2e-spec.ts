import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { startDemo } from './start-demo';

/** One sample of the text exposition format: `name{label="value",…} value`. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

function parse(text: string): Sample[] {
  return text.split('\n').flatMap((line) => {
    const match = SAMPLE.exec(line);
    if (!match || line.startsWith('#')) return [];
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(LABEL)].map(([, key, value]) => [key, value]));
    return [{ name: match[1], labels, value: Number(match[3]) }];
  });
}

/** The scraped metrics, and the value of one series (summed over the label sets that match `labels`). */
class Scrape {
  constructor(
    readonly text: string,
    private readonly samples: Sample[],
  ) {}

  value(name: string, labels: Record<string, string> = {}): number {
    return this.samples
      .filter(
        (sample) =>
          sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
      )
      .reduce((sum, sample) => sum + sample.value, 0);
  }

  /** How much a series grew since `before`. */
  since(before: Scrape, name: string, labels: Record<string, string> = {}): number {
    return this.value(name, labels) - before.value(name, labels);
  }
}

describe('demo: GET /metrics on Redis, after real traffic', () => {
  const namespace = uniqueNamespace('metrics');
  let app: INestApplication;

  beforeAll(async () => {
    app = await startDemo({ ELILE_REDIS_URL: testRedisUrl(), ELILE_CACHE_NAMESPACE: namespace });
  });

  afterAll(async () => {
    await app?.close();
    await deleteNamespace(testRedisUrl(), namespace);
  });

  async function scrape(): Promise<Scrape> {
    const answer = await request(app.getHttpServer()).get('/metrics').expect(200);
    // Prometheus's text format, version 0.0.4 (express moves the charset parameter first).
    expect(answer.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    return new Scrape(answer.text, parse(answer.text));
  }

  const screening = { domain: 'screening' };

  it('names every metric with elile_cache_, with its type and help', async () => {
    const { text } = await scrape();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => `${name} ${type}`);
    expect(types).toEqual(
      expect.arrayContaining([
        'elile_cache_hits_total counter',
        'elile_cache_misses_total counter',
        'elile_cache_l1_hits_total counter',
        'elile_cache_sets_total counter',
        'elile_cache_deletes_total counter',
        'elile_cache_invalidations_total counter',
        'elile_cache_errors_total counter',
        'elile_cache_stale_served_total counter',
        'elile_cache_loads_total counter',
        'elile_cache_loader_duration_seconds histogram',
        'elile_cache_redis_command_duration_seconds histogram',
        'elile_cache_lock_acquired_total counter',
        'elile_cache_lock_not_acquired_total counter',
        'elile_cache_lock_wait_seconds histogram',
        'elile_cache_lock_lost_total counter',
        'elile_cache_lock_extended_total counter',
        'elile_cache_breaker_state gauge',
        'elile_cache_breaker_transitions_total counter',
      ]),
    );
    expect(types.every((type) => type.startsWith('elile_cache_'))).toBe(true);
  });

  it('a miss with its loader run, then a hit, then a locked update with its invalidation', async () => {
    const server = app.getHttpServer();
    const start = await scrape();

    expect((await request(server).get('/screenings/scr-3').expect(200)).headers['x-cache']).toBe('MISS');
    const afterMiss = await scrape();
    expect(afterMiss.since(start, 'elile_cache_misses_total', screening)).toBe(1);
    expect(afterMiss.since(start, 'elile_cache_hits_total', screening)).toBe(0);
    expect(afterMiss.since(start, 'elile_cache_loads_total', screening)).toBe(1);
    const loaded = { ...screening, reason: 'miss', outcome: 'ok' };
    expect(afterMiss.since(start, 'elile_cache_loader_duration_seconds_count', loaded)).toBe(1);
    expect(afterMiss.since(start, 'elile_cache_loader_duration_seconds_bucket', { ...loaded, le: '+Inf' })).toBe(1);
    expect(afterMiss.since(start, 'elile_cache_loader_duration_seconds_sum', loaded)).toBeGreaterThan(0);
    // The read, the lease and the fill went to Redis and were timed.
    expect(
      afterMiss.since(start, 'elile_cache_redis_command_duration_seconds_count', { outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(2);

    expect((await request(server).get('/screenings/scr-3').expect(200)).headers['x-cache']).toBe('HIT');
    const afterHit = await scrape();
    expect(afterHit.since(afterMiss, 'elile_cache_hits_total', screening)).toBe(1);
    expect(afterHit.since(afterMiss, 'elile_cache_misses_total', screening)).toBe(0);
    expect(afterHit.since(afterMiss, 'elile_cache_loads_total', screening)).toBe(0);

    await request(server).post('/screenings/scr-3/advance').expect(201);
    const afterAdvance = await scrape();
    expect(afterAdvance.since(afterHit, 'elile_cache_lock_acquired_total')).toBe(1);
    expect(afterAdvance.since(afterHit, 'elile_cache_lock_not_acquired_total')).toBe(0);
    expect(afterAdvance.since(afterHit, 'elile_cache_lock_wait_seconds_count')).toBe(1);
    expect(afterAdvance.value('elile_cache_lock_lost_total')).toBe(0);
    expect(afterAdvance.since(afterHit, 'elile_cache_invalidations_total', screening)).toBe(1);

    expect((await request(server).get('/screenings/scr-3').expect(200)).headers['x-cache']).toBe('MISS');
    const afterReload = await scrape();
    expect(afterReload.since(afterAdvance, 'elile_cache_misses_total', screening)).toBe(1);
    expect(afterReload.since(afterAdvance, 'elile_cache_loads_total', screening)).toBe(1);
  });

  it('a healthy Redis: breaker closed, no transitions, no errors of any kind', async () => {
    const now = await scrape();
    expect(now.value('elile_cache_breaker_state', { state: 'closed' })).toBe(1);
    expect(now.value('elile_cache_breaker_state', { state: 'open' })).toBe(0);
    expect(now.value('elile_cache_breaker_transitions_total')).toBe(0);
    expect(now.value('elile_cache_errors_total')).toBe(0);
    // Every kind is exported for every domain, zero included, so rate() works from the first error.
    expect(now.text).toContain('elile_cache_errors_total{domain="screening",kind="circuit_open"} 0');
  });
});
