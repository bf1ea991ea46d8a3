import type Redis from 'ioredis';
import { resolveCacheOptions } from '../../libs/cache/src/options/resolve-options';
import { RedisClient } from '../../libs/cache/src/redis/redis.client';
import type { CacheStore, EntryTags, TagKeys } from '../../libs/cache/src/store/cache-store.interface';
import { MemoryStore } from '../../libs/cache/src/store/memory.store';
import { RedisStore } from '../../libs/cache/src/store/redis.store';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { closeRaw, rawRedis, sleep } from './cache-test-app';

/**
 * Tag indexes at the store level: they must hold a tag's live entries — not every key it ever
 * had, and not fewer because other tags are busy — and invalidating a large tag must not block
 * Redis. The stores are used directly, so that these tests see exactly what a store does.
 */

const LEASE_TTL_MS = 5_000;
/** The memory store's LRU bound: far below the number of tags the churn tests write. */
const MAX_ENTRIES = 50;
const namespace = uniqueNamespace('tag-index');

interface StoreFixture {
  readonly store: CacheStore;
  readonly prefix: string;
  close(): Promise<void>;
}

const clients: RedisClient[] = [];
let fixtureNumber = 0;

async function makeStore(kind: 'memory' | 'redis'): Promise<StoreFixture> {
  fixtureNumber += 1;
  const prefix = `${namespace}${kind}${fixtureNumber}:`;
  if (kind === 'memory') return { store: new MemoryStore(MAX_ENTRIES), prefix, close: async () => undefined };
  // A deadline for bulk setup: 5,000 tagged writes at once outlast the 0.5 s write deadline here.
  const resolved = resolveCacheOptions({
    store: 'redis',
    namespace,
    redis: { url: testRedisUrl(), commandTimeout: 5 },
  });
  const client = new RedisClient(resolved.redis);
  clients.push(client);
  await client.onModuleInit();
  return { store: new RedisStore(client), prefix, close: () => client.onApplicationShutdown() };
}

function tagOf(prefix: string, name: string): TagKeys {
  return { members: `${prefix}tag:${name}`, invalidatedAt: `${prefix}tag-invalidated:${name}` };
}

function tagged(...tags: TagKeys[]): EntryTags {
  return { tags, leaseTtlMs: LEASE_TTL_MS };
}

const value = (text: string) => Buffer.from(text);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.onApplicationShutdown()));
  await deleteNamespace(testRedisUrl(), namespace);
});

describe.each(['memory', 'redis'] as const)('tag indexes on the %s store', (kind) => {
  let fixture: StoreFixture;
  let store: CacheStore;
  const key = (name: string) => `${fixture.prefix}${name}`;
  const tag = (name: string) => tagOf(fixture.prefix, name);

  beforeEach(async () => {
    fixture = await makeStore(kind);
    store = fixture.store;
  });

  afterEach(async () => {
    await fixture.close();
  });

  /**
   * Writes and invalidates `count` other tags, one entry each, reading `keep` between writes so
   * that the memory store's LRU keeps those entries (a read used not to keep their tags).
   */
  async function churnOtherTags(count: number, keep: readonly string[]): Promise<void> {
    for (let i = 0; i < count; i++) {
      await store.set(key(`other-${i}`), value('other'), 60_000, tagged(tag(`other-${i}`)));
      await store.invalidateTags([tag(`gone-${i}`)], LEASE_TTL_MS);
      await store.getMany(keep);
    }
  }

  it('invalidating a live tag deletes its entries after churn on 200 other tags', async () => {
    const live = ['a', 'b', 'c'].map(key);
    for (const entry of live) await store.set(entry, value(entry), 60_000, tagged(tag('live')));

    await churnOtherTags(200, live);

    await expect(store.getMany(live)).resolves.toEqual(live.map((entry) => value(entry)));
    await expect(store.invalidateTags([tag('live')], LEASE_TTL_MS)).resolves.toBe(3);
    expect((await store.getMany(live)).every((entry) => entry == null)).toBe(true);
  });

  it('refuses a fill whose lease began before the invalidation, after churn on 200 other tags', async () => {
    const fill = key('fill');
    const lease = value('lease-1');
    await expect(store.setIfAbsent(fill, lease, LEASE_TTL_MS)).resolves.toBeUndefined();
    await store.invalidateTags([tag('live')], LEASE_TTL_MS);

    await churnOtherTags(200, [fill]);

    await expect(store.replaceIf(fill, lease, value('stale'), 60_000, tagged(tag('live')))).resolves.toBe(false);
    // The refused lease is gone too, so the next reader loads afresh.
    expect(await store.get(fill)).toBeFalsy();
    // A lease taken after the invalidation fills as usual: only earlier ones are refused.
    const later = value('lease-2');
    await expect(store.setIfAbsent(fill, later, LEASE_TTL_MS)).resolves.toBeUndefined();
    await expect(store.replaceIf(fill, later, value('fresh'), 60_000, tagged(tag('live')))).resolves.toBe(true);
    await expect(store.get(fill)).resolves.toEqual(value('fresh'));
  });

  it('reports the entries it deleted, not the keys the tag once had', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => key(`counted-${i}`));
    for (const entry of keys) await store.set(entry, value('v'), 60_000, tagged(tag('counted')));
    await expect(store.delete(keys.slice(0, 4))).resolves.toBe(4);

    await expect(store.invalidateTags([tag('counted')], LEASE_TTL_MS)).resolves.toBe(6);
    await expect(store.invalidateTags([tag('counted')], LEASE_TTL_MS)).resolves.toBe(0);
  });

  it('leaves alone a key whose tagged entry expired and which was written again without the tag', async () => {
    // A long-lived member keeps the tag's index alive past the short entry.
    await store.set(key('keeper'), value('kept'), 60_000, tagged(tag('expiring')));
    await store.set(key('reused'), value('tagged'), 100, tagged(tag('expiring')));
    await sleep(250);
    await store.set(key('reused'), value('untagged'), 60_000);

    await expect(store.invalidateTags([tag('expiring')], LEASE_TTL_MS)).resolves.toBe(1);
    expect(await store.get(key('keeper'))).toBeFalsy();
    await expect(store.get(key('reused'))).resolves.toEqual(value('untagged'));
  });
});

describe('tag indexes on the memory store stay bounded by the live entries', () => {
  /** The store's tag indexes, read for their sizes only. */
  const indexesOf = (store: MemoryStore) =>
    (store as unknown as { tagMembers: Map<string, Map<string, number>> }).tagMembers;

  it('a tag written by many short-lived entries holds about its live ones', async () => {
    const store = new MemoryStore(10_000);
    const hot = tagOf('m:', 'hot');
    let written = 0;
    const until = performance.now() + 600;
    while (performance.now() < until) {
      for (let i = 0; i < 50; i++) await store.set(`m:hot-${written++}`, value('v'), 50, tagged(hot));
      await sleep(5);
    }
    const size = indexesOf(store).get(hot.members)?.size ?? 0;
    expect(written).toBeGreaterThan(1_000);
    expect(size).toBeLessThan(written / 4);
  });

  it('indexes of 5,000 tags shrink back once their entries are evicted', async () => {
    const store = new MemoryStore(MAX_ENTRIES);
    for (let i = 0; i < 5_000; i++) await store.set(`m:k-${i}`, value('v'), 60_000, tagged(tagOf('m:', `t-${i}`)));
    // At most the live entries' tags plus one sweep interval (1,000 tag writes) of dead ones.
    expect(indexesOf(store).size).toBeLessThanOrEqual(MAX_ENTRIES + 1_000);
  });
});

describe('tag indexes on the Redis store', () => {
  let fixture: StoreFixture;
  let raw: Redis;

  beforeAll(() => {
    raw = rawRedis(testRedisUrl());
  });

  beforeEach(async () => {
    fixture = await makeStore('redis');
  });

  afterEach(async () => {
    await fixture.close();
  });

  afterAll(async () => {
    await closeRaw(raw);
  });

  it('prunes expired members as the tag is written, and keeps the index as long as its longest member', async () => {
    const hot = tagOf(fixture.prefix, 'hot');
    await fixture.store.set(`${fixture.prefix}long`, value('v'), 60_000, tagged(hot));
    let written = 0;
    const until = performance.now() + 1_000;
    while (performance.now() < until) {
      await Promise.all(
        Array.from({ length: 50 }, () =>
          fixture.store.set(`${fixture.prefix}hot-${written++}`, value('v'), 100, tagged(hot)),
        ),
      );
    }
    expect(written).toBeGreaterThan(1_000);
    // Members still indexed: the last ~100 ms of writes, the long-lived one, and at most one
    // prune limit of expired ones. Never pruned, it would hold every key written.
    expect(await raw.zcard(hot.members)).toBeLessThan(written / 4);
    expect(await raw.zscore(hot.members, `${fixture.prefix}long`)).not.toBeNull();
    expect(await raw.pttl(hot.members)).toBeGreaterThan(55_000);

    // Once every short entry expired, each write prunes up to 100 of them: a few writes empty it.
    await sleep(200);
    const writes = Math.ceil((await raw.zcard(hot.members)) / 100) + 1;
    for (let i = 0; i < writes; i++) {
      await fixture.store.set(`${fixture.prefix}after-${i}`, value('v'), 60_000, tagged(hot));
    }
    expect(await raw.zcard(hot.members)).toBe(writes + 1);
  });

  it('invalidates a tag of 50,000 entries in short calls, and reports them all', async () => {
    const COUNT = 50_000;
    // One call deleting them all takes ~30 ms here; a batch of 500 well under 1 ms.
    const LONGEST_CALL_US = 10_000;
    const big = tagOf(fixture.prefix, 'big');
    for (let start = 0; start < COUNT; start += 5_000) {
      await Promise.all(
        Array.from({ length: 5_000 }, (_, i) =>
          fixture.store.set(`${fixture.prefix}big-${start + i}`, value('v'), 60_000, tagged(big)),
        ),
      );
    }

    const [, threshold] = (await raw.config('GET', 'slowlog-log-slower-than')) as [string, string];
    if (Number(threshold) < 0 || Number(threshold) > LONGEST_CALL_US) {
      await raw.config('SET', 'slowlog-log-slower-than', String(LONGEST_CALL_US));
    }
    try {
      const before = await slowlogIds(raw);
      await expect(fixture.store.invalidateTags([big], LEASE_TTL_MS)).resolves.toBe(COUNT);
      const slowCalls = (await slowlog(raw)).filter(
        ({ id, args }) => !before.has(id) && args.some((arg) => arg.includes(fixture.prefix)),
      );
      expect(slowCalls.filter(({ durationUs }) => durationUs > LONGEST_CALL_US)).toEqual([]);
    } finally {
      await raw.config('SET', 'slowlog-log-slower-than', threshold);
    }

    await expect(raw.exists(big.members, `${fixture.prefix}big-0`, `${fixture.prefix}big-${COUNT - 1}`)).resolves.toBe(
      0,
    );
    await expect(raw.exists(big.invalidatedAt)).resolves.toBe(1);
  });

  it('invalidates many tags at once: serves 1,000 tags in a few calls, a large tag among them included, and deletes exactly their entries', async () => {
    const key = (name: string) => `${fixture.prefix}${name}`;
    const tags = Array.from({ length: 1_000 }, (_, i) => tagOf(fixture.prefix, `t${i}`));
    // The large tag sits where one call's share of tags ends and the next begins.
    const big = tags[499];
    await Promise.all(
      tags.map((tag, i) =>
        tag === big ? undefined : fixture.store.set(key(`small-${i}`), value('v'), 60_000, tagged(tag)),
      ),
    );
    await Promise.all(
      Array.from({ length: 1_200 }, (_, i) => fixture.store.set(key(`big-${i}`), value('v'), 60_000, tagged(big))),
    );
    const other = tagOf(fixture.prefix, 'other');
    await fixture.store.set(key('other'), value('kept'), 60_000, tagged(other));

    const client = clients[clients.length - 1];
    const connection = client.connection as Redis;
    const send = connection.sendCommand.bind(connection);
    let sent = 0;
    connection.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
      sent++;
      return send(...args);
    }) as Redis['sendCommand'];
    try {
      await expect(fixture.store.invalidateTags(tags, LEASE_TTL_MS)).resolves.toBe(999 + 1_200);
    } finally {
      connection.sendCommand = send;
    }
    // Two marking calls (500 tags each) and ceil(2,199 / 500) deletion calls, give or take one
    // for the NOSCRIPT fallback of a script this server has not seen: never one per tag.
    expect(sent).toBeLessThanOrEqual(10);

    await expect(raw.exists(key('small-0'), key('small-999'), key('big-0'), key('big-1199'))).resolves.toBe(0);
    await expect(raw.exists(...tags.map((tag) => tag.members))).resolves.toBe(0);
    await expect(raw.exists(...tags.map((tag) => tag.invalidatedAt))).resolves.toBe(tags.length);
    await expect(fixture.store.get(key('other'))).resolves.toEqual(value('kept'));
  });
});

interface SlowlogEntry {
  readonly id: number;
  readonly durationUs: number;
  readonly args: string[];
}

async function slowlog(raw: Redis): Promise<SlowlogEntry[]> {
  const entries = (await raw.call('SLOWLOG', 'GET', '1000')) as Array<[number, number, number, string[]]>;
  return entries.map(([id, , durationUs, args]) => ({ id, durationUs, args }));
}

async function slowlogIds(raw: Redis): Promise<Set<number>> {
  return new Set((await slowlog(raw)).map(({ id }) => id));
}
