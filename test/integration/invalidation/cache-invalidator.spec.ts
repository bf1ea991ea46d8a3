import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import type Redis from 'ioredis';
import {
  CacheArgumentError,
  CacheCommandError,
  CacheConfigurationError,
  CacheInvalidationError,
  CacheInvalidator,
  CacheModule,
  CacheRegistry,
  type CacheService,
  type CacheStoreKind,
  type InvalidationPart,
  invalidationTag,
  invalidationTags,
  RedisClient,
} from '@elile/cache';
import { RecordingLogger } from '../../support/recording-logger';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { closeRaw, failureOf, rawRedis } from '../cache-test-app';

/**
 * The sketch's rules on a real Redis and on the memory store. Every test seeds the same small
 * world for a set of ids — in each domain an entry under the id itself and derived entries, some
 * tagged, one not — runs one rule, and compares what is left with what the rule must remove:
 * nothing more (no other id, no other domain), nothing less.
 */

const fileNamespace = uniqueNamespace('invalidator');
let testNumber = 0;

/** A team's own rule, added the documented way: a subclass building parts. */
@Injectable()
class PlatformInvalidator extends CacheInvalidator {
  invalidateComplianceRuleSet(id: string): Promise<number> {
    return this.invalidate('invalidateComplianceRuleSet', [
      { domain: 'compliance', keys: [id], tags: [invalidationTag('ruleset', id)] },
    ]);
  }

  /** Widens a built-in rule: a subject's sessions go too, in the batch as well. */
  protected override subjectParts(id: string): InvalidationPart[] {
    return [...super.subjectParts(id), { domain: 'session', tags: [invalidationTags.subject(id)] }];
  }
}

interface App {
  readonly moduleRef: TestingModule;
  readonly invalidator: CacheInvalidator;
  readonly platform: PlatformInvalidator;
  cache(domain: string): CacheService<unknown>;
}

async function boot(store: CacheStoreKind, namespace: string): Promise<App> {
  const moduleRef = await Test.createTestingModule({
    imports: [CacheModule.forRoot({ store, namespace, redis: { url: testRedisUrl() } })],
    providers: [PlatformInvalidator],
  })
    .setLogger(new RecordingLogger())
    .compile();
  await moduleRef.init();
  const registry = moduleRef.get(CacheRegistry);
  return {
    moduleRef,
    invalidator: moduleRef.get(CacheInvalidator),
    platform: moduleRef.get(PlatformInvalidator),
    cache: (domain) => registry.get(domain),
  };
}

/** An entry of the seeded world: where it lives and its tags. */
interface Seeded {
  readonly domain: string;
  readonly key: string;
  readonly tags: readonly string[];
  /** The id whose world it belongs to. */
  readonly id: string;
}

/**
 * For each id: the screening under the id (tagged with itself and its subject, the subject
 * having the same id), its report (its screening's tag), another screening of the subject under
 * another key, an untagged legacy screening entry under `<id>:`, the subject and its profile, the
 * org and its settings, an untagged legacy org entry.
 */
function worldOf(id: string): Seeded[] {
  const { screening, subject, org } = invalidationTags;
  return [
    { domain: 'screening', key: id, tags: [screening(id), subject(id)], id },
    { domain: 'screening', key: `${id}:report`, tags: [screening(id)], id },
    { domain: 'screening', key: `of-subject:${id}`, tags: [subject(id)], id },
    { domain: 'screening', key: `${id}:legacy`, tags: [], id },
    { domain: 'subject', key: id, tags: [], id },
    { domain: 'subject', key: `${id}:profile`, tags: [subject(id)], id },
    { domain: 'org', key: id, tags: [], id },
    { domain: 'org', key: `${id}:settings`, tags: [org(id)], id },
    { domain: 'org', key: `${id}:legacy`, tags: [], id },
    { domain: 'session', key: `of-subject:${id}`, tags: [subject(id)], id },
  ];
}

type Rule = 'invalidateScreening' | 'invalidateSubject' | 'invalidateOrg';

/** What a rule for `id` must remove from `id`'s world (with `scan`, the untagged `<id>:` entries too). */
function removedBy(rule: Rule, id: string, scan: boolean): Set<string> {
  const name = (domain: string, key: string) => `${domain}/${key}`;
  const removed: Record<Rule, string[]> = {
    invalidateScreening: [
      name('screening', id),
      name('screening', `${id}:report`),
      ...(scan ? [name('screening', `${id}:legacy`)] : []),
    ],
    invalidateSubject: [
      name('screening', id),
      name('screening', `of-subject:${id}`),
      name('subject', id),
      name('subject', `${id}:profile`),
    ],
    invalidateOrg: [name('org', id), name('org', `${id}:settings`), ...(scan ? [name('org', `${id}:legacy`)] : [])],
  };
  return new Set(removed[rule]);
}

/** Ids a glob would widen or confuse, beside the ids a widened pattern would hit. */
const TRICKY_IDS = ['a*', 'a?', 'a[b]', 'a[', 'a]', 'a\\', 'a\\*', '*', '?', 'a:b', 'a:'];
const PLAIN_IDS = ['a', 'ab', 'abc', 'ax', 'a:', 'b'];
const ALL_IDS = [...new Set([...TRICKY_IDS, ...PLAIN_IDS])];

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), fileNamespace);
});

describe.each<CacheStoreKind>(['memory', 'redis'])('CacheInvalidator on the %s store', (store) => {
  let app: App;

  beforeEach(async () => {
    testNumber += 1;
    app = await boot(store, `${fileNamespace}${store}${testNumber}:`);
  });

  afterEach(async () => {
    await app.moduleRef.close();
  });

  async function seed(ids: readonly string[]): Promise<Seeded[]> {
    const world = ids.flatMap(worldOf);
    for (const { domain, key, tags, id } of world) {
      await app.cache(domain).set(key, { id, key }, { tags });
    }
    return world;
  }

  /** `domain/key` of every seeded entry still cached. */
  async function remaining(world: readonly Seeded[]): Promise<Set<string>> {
    const left = new Set<string>();
    for (const { domain, key } of world) {
      if ((await app.cache(domain).get(key)) !== undefined) left.add(`${domain}/${key}`);
    }
    return left;
  }

  const expectLeft = async (world: readonly Seeded[], removed: ReadonlySet<string>) => {
    const expected = world.map(({ domain, key }) => `${domain}/${key}`).filter((entry) => !removed.has(entry));
    expect([...(await remaining(world))].sort()).toEqual([...new Set(expected)].sort());
  };

  it('invalidateScreening removes the screening and the entries tagged with it, nothing else', async () => {
    const world = await seed(['scr-1', 'scr-2', 'scr-10']);
    await expect(app.invalidator.invalidateScreening('scr-1')).resolves.toBe(2);
    await expectLeft(world, removedBy('invalidateScreening', 'scr-1', false));
  });

  it('invalidateSubject removes the subject, its tagged entries and its screenings (by tag, under any key)', async () => {
    const world = await seed(['sub-1', 'sub-2', 'sub-10']);
    await expect(app.invalidator.invalidateSubject('sub-1')).resolves.toBe(4);
    await expectLeft(world, removedBy('invalidateSubject', 'sub-1', false));
  });

  it('invalidateOrg removes the org and the entries tagged with it, nothing else', async () => {
    const world = await seed(['org-1', 'org-2', 'org-10']);
    await expect(app.invalidator.invalidateOrg('org-1')).resolves.toBe(2);
    await expectLeft(world, removedBy('invalidateOrg', 'org-1', false));
  });

  describe('ids are data, never patterns', () => {
    const cases = TRICKY_IDS.flatMap((id) =>
      (['invalidateScreening', 'invalidateSubject', 'invalidateOrg'] as const).map((rule) => [rule, id] as const),
    );

    it.each(cases)(
      '%s(%j) removes exactly its own entries beside a, ab, abc and the other tricky ids',
      async (rule, id) => {
        const world = await seed(ALL_IDS);
        await app.invalidator[rule](id);
        await expectLeft(world, removedBy(rule, id, false));
      },
    );

    // The opt-in SCAN sweep escapes the id, so a glob character matches only itself. Ids with a
    // ":" are left out: `<id>:` key names cannot tell "a" + ":b:legacy" from "a:b" + ":legacy",
    // which is why the rules rely on tags.
    const globIds = TRICKY_IDS.filter((id) => !id.includes(':'));
    const scanned = globIds.flatMap((id) =>
      (['invalidateScreening', 'invalidateOrg'] as const).map((rule) => [rule, id] as const),
    );

    it.each(scanned)(
      '%s(%j, { scan: true }) also sweeps its untagged <id>: entries, and only those',
      async (rule, id) => {
        const world = await seed(ALL_IDS.filter((other) => !other.includes(':')));
        await app.invalidator[rule](id, { scan: true });
        await expectLeft(world, removedBy(rule, id, true));
      },
    );
  });

  it('invalidateBatch removes what each rule removes, for many ids at once', async () => {
    const world = await seed(ALL_IDS);
    const screeningIds = ['a*', 'ab'];
    const subjectIds = ['a[b]', 'a:'];
    const orgIds = ['*', 'abc'];
    await app.invalidator.invalidateBatch({ screeningIds, subjectIds, orgIds });
    const removed = new Set([
      ...screeningIds.flatMap((id) => [...removedBy('invalidateScreening', id, false)]),
      ...subjectIds.flatMap((id) => [...removedBy('invalidateSubject', id, false)]),
      ...orgIds.flatMap((id) => [...removedBy('invalidateOrg', id, false)]),
    ]);
    await expectLeft(world, removed);
  });

  it('invalidateBatch with nothing to do resolves to 0', async () => {
    await expect(app.invalidator.invalidateBatch({})).resolves.toBe(0);
    await expect(app.invalidator.invalidateBatch({ screeningIds: [], subjectIds: [] })).resolves.toBe(0);
  });

  it.each<[string, () => Promise<unknown>]>([
    ['an empty id', () => app.invalidator.invalidateScreening('')],
    ['a non-string id', () => app.invalidator.invalidateSubject(7 as unknown as string)],
    ['an id in the reserved key space', () => app.invalidator.invalidateOrg('__elile:x')],
    [
      'a batch list that is not an array',
      () => app.invalidator.invalidateBatch({ orgIds: 'org-1' as unknown as string[] }),
    ],
    ['a bad id late in a batch', () => app.invalidator.invalidateBatch({ screeningIds: ['a'], orgIds: ['org-1', ''] })],
  ])('refuses %s with CacheArgumentError before removing anything', async (_, call) => {
    const world = await seed(['a', 'org-1']);
    expect(await failureOf(call)).toBeInstanceOf(CacheArgumentError);
    await expectLeft(world, new Set());
  });

  describe('extended by the application', () => {
    it('a subclass adds its own rule', async () => {
      const compliance = app.cache('compliance');
      const ruleset = invalidationTag('ruleset', 'fcra');
      await compliance.set('fcra', { rules: 3 });
      await compliance.set('fcra:org-1', { rules: 3, org: 'org-1' }, { tags: [ruleset] });
      await compliance.set('gdpr', { rules: 5 }, { tags: [invalidationTag('ruleset', 'gdpr')] });

      await expect(app.platform.invalidateComplianceRuleSet('fcra')).resolves.toBe(2);
      await expect(compliance.getMany(['fcra', 'fcra:org-1', 'gdpr'])).resolves.toEqual([
        undefined,
        undefined,
        { rules: 5 },
      ]);
    });

    it('a subclass widening a built-in rule widens the batch too; the base class is unchanged', async () => {
      const world = await seed(['s-1', 's-2']);
      await app.invalidator.invalidateSubject('s-1');
      await expect(app.cache('session').get('of-subject:s-1')).resolves.toBeDefined();

      await app.platform.invalidateBatch({ subjectIds: ['s-1', 's-2'] });
      const left = await remaining(world);
      expect([...left].filter((entry) => entry.startsWith('session/'))).toEqual([]);
      expect(left.has('org/s-1')).toBe(true);
    });

    it('a rule with an empty tag fails with CacheArgumentError before removing anything', async () => {
      const world = await seed(['a']);
      class EmptyTag extends CacheInvalidator {
        run(): Promise<number> {
          return this.invalidate('run', [
            { domain: 'org', keys: ['a'] },
            { domain: 'screening', tags: [''] },
          ]);
        }
      }
      const error = await failureOf(() => new EmptyTag(app.moduleRef.get(CacheRegistry)).run());
      expect(error).toBeInstanceOf(CacheArgumentError);
      expect((error as Error).message).toContain('Invalidation tags must be non-empty strings');
      await expectLeft(world, new Set());
    });

    it('a rule naming a domain that is not configured fails before removing anything', async () => {
      const world = await seed(['a']);
      class Misconfigured extends CacheInvalidator {
        run(): Promise<number> {
          return this.invalidate('run', [
            { domain: 'org', keys: ['a'] },
            { domain: 'reports', keys: ['a'] },
          ]);
        }
      }
      const misconfigured = new Misconfigured(app.moduleRef.get(CacheRegistry));
      expect(await failureOf(() => misconfigured.run())).toBeInstanceOf(CacheConfigurationError);
      await expectLeft(world, new Set());
    });
  });
});

describe('CacheInvalidator on a failing Redis', () => {
  let app: App;
  let raw: Redis;
  const namespace = `${fileNamespace}failing:`;

  beforeEach(async () => {
    app = await boot('redis', namespace);
    raw = rawRedis(testRedisUrl());
  });

  afterEach(async () => {
    await app.moduleRef.close();
    await closeRaw(raw);
  });

  it('attempts every part when one fails, and names the one that did not happen', async () => {
    const { subject } = invalidationTags;
    await app.cache('subject').set('s-1', { name: 'before' });
    await app.cache('screening').set('scr-1', { subject: 's-1' }, { tags: [subject('s-1')] });
    // A real Redis error on one part only: the subject domain's index of the tag is not a sorted
    // set, so the script working on it gets WRONGTYPE; the other parts run as usual.
    await raw.set(`${namespace}__elile:subject:tag:${subject('s-1')}`, 'not a sorted set');

    const error = await failureOf(() => app.invalidator.invalidateSubject('s-1'));
    expect(error).toBeInstanceOf(CacheInvalidationError);
    const failure = error as CacheInvalidationError;
    expect(failure.code).toBe('ELILE_CACHE_INVALIDATION');
    expect(failure.rule).toBe('invalidateSubject');
    expect(failure.notInvalidated).toEqual([
      { domain: 'subject', keys: [], tags: [subject('s-1')], patterns: [], error: expect.any(CacheCommandError) },
    ]);
    expect(failure.cause).toBe(failure.notInvalidated[0].error);
    expect(failure.message).toContain('invalidateSubject did not complete');
    expect(failure.message).toContain('subject tags "subject:s-1"');
    // The parts that could run did.
    await expect(app.cache('subject').get('s-1')).resolves.toBeUndefined();
    await expect(app.cache('screening').get('scr-1')).resolves.toBeUndefined();
  });

  it('names every part of a batch when Redis cannot be reached', async () => {
    app.moduleRef.get(RedisClient).connection.disconnect();
    const ids = Array.from({ length: 12 }, (_, i) => `scr-${i}`);
    const error = (await failureOf(() =>
      app.invalidator.invalidateBatch({ screeningIds: ids, subjectIds: ['s-1'], orgIds: ['o-1'] }),
    )) as CacheInvalidationError;
    expect(error).toBeInstanceOf(CacheInvalidationError);
    expect(error.rule).toBe('invalidateBatch');
    const parts = error.notInvalidated.map(({ domain, keys, tags }) => ({
      domain,
      keys: keys.length,
      tags: tags.length,
    }));
    expect(parts).toEqual(
      expect.arrayContaining([
        { domain: 'screening', keys: 12, tags: 0 },
        { domain: 'screening', keys: 0, tags: 13 },
        { domain: 'subject', keys: 1, tags: 0 },
        { domain: 'subject', keys: 0, tags: 1 },
        { domain: 'org', keys: 1, tags: 0 },
        { domain: 'org', keys: 0, tags: 1 },
      ]),
    );
    expect(parts).toHaveLength(6);
    // The message stays readable however many ids a part holds; the error keeps them all.
    expect(error.message).toContain('and 7 more');
    expect(error.notInvalidated[0].keys).toHaveLength(12);
  });
});

describe('CacheInvalidator round trips (Redis)', () => {
  let app: App;

  beforeEach(async () => {
    testNumber += 1;
    app = await boot('redis', `${fileNamespace}trips${testNumber}:`);
  });

  afterEach(async () => {
    await app.moduleRef.close();
  });

  /** Commands the module's connection sent while `work` ran. */
  async function commandsSent(work: () => Promise<unknown>): Promise<number> {
    const connection = app.moduleRef.get(RedisClient).connection as Redis;
    const original = connection.sendCommand.bind(connection);
    let sent = 0;
    connection.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
      sent++;
      return original(...args);
    }) as Redis['sendCommand'];
    try {
      await work();
    } finally {
      connection.sendCommand = original;
    }
    return sent;
  }

  async function seedBatch(count: number, label: string) {
    const ids = Array.from({ length: count }, (_, i) => `${label}-${i}`);
    const { screening, subject, org } = invalidationTags;
    for (const id of ids) {
      await app.cache('screening').set(id, 1, { tags: [screening(id), subject(id)] });
      await app.cache('screening').set(`${id}:report`, 1, { tags: [screening(id)] });
      await app.cache('subject').set(id, 1, { tags: [subject(id)] });
      await app.cache('org').set(id, 1, { tags: [org(id)] });
    }
    return { screeningIds: ids, subjectIds: ids, orgIds: ids };
  }

  it('invalidateBatch sends as many commands for 100 ids per list as for 2: three per domain', async () => {
    const small = await seedBatch(2, 'small');
    const large = await seedBatch(100, 'large');
    // The first call of a script on a server that has not seen it costs a second command (EVAL
    // after NOSCRIPT); this one pays that, so the counts below compare like with like.
    await app.invalidator.invalidateBatch({ screeningIds: ['warm'], subjectIds: ['warm'], orgIds: ['warm'] });
    const forSmall = await commandsSent(() => app.invalidator.invalidateBatch(small));
    const forLarge = await commandsSent(() => app.invalidator.invalidateBatch(large));
    // Per domain: UNLINK of the keys, the tag markers, one deletion batch.
    expect(forSmall).toBe(9);
    expect(forLarge).toBe(forSmall);
    await expect(app.cache('screening').getMany(['large-0', 'large-99:report', 'small-1'])).resolves.toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('the same ids one rule at a time take a round trip per id and domain', async () => {
    const batch = await seedBatch(20, 'one-by-one');
    const oneByOne = await commandsSent(async () => {
      for (const id of batch.subjectIds) await app.invalidator.invalidateSubject(id);
    });
    expect(oneByOne).toBeGreaterThanOrEqual(20 * 5);
  });
});
