import type { INestApplication } from '@nestjs/common';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheInvalidator, CacheRegistry, type CacheService, invalidationTags } from '@elile/cache';
import { createDecoratedApp, type StoreKind } from '../../fixtures/decorated-app';
import {
  createRowsDatabase,
  jitter,
  rowsDatabaseProvider,
  VersionedRepository,
  type VersionedRow,
} from '../../fixtures/versioned.repository';
import { SubjectScreeningsRepository } from '../../fixtures/subject-screenings.repository';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

/**
 * The "no stale sets" proof. Reads and update+evict of the same ids race, round after
 * round; after each round everything is awaited and every cached entry is compared with the
 * SQLite row. A read-through that loaded before an eviction and fills after it would leave an
 * old version cached: the count of such entries must be 0. The same race against a naive
 * read-through (get, load, set) must produce some, or the test proves nothing.
 */

const namespace = uniqueNamespace('no-stale-sets');
const IDS = Array.from({ length: 10 }, (_, i) => `row-${i}`);
const ROUNDS = 300;
const READS_PER_ID = 3;

interface RaceParticipant {
  read(id: string): Promise<VersionedRow>;
  update(id: string): Promise<void>;
}

interface RaceResult {
  /** Entries that differed from the source, summed over every quiesced round. */
  staleEntries: number;
  /** Ids still differing after the last round. */
  staleAtEnd: string[];
}

const pick = <T>(options: readonly T[]): T => options[Math.floor(Math.random() * options.length)];

/** Starts `work` after a random 0–3 ms, so reads and updates interleave differently each time. */
async function later<T>(work: () => Promise<T>): Promise<T> {
  await jitter(3);
  return work();
}

async function race(
  participants: readonly RaceParticipant[],
  cached: (id: string) => Promise<VersionedRow | undefined>,
  source: (id: string) => VersionedRow,
): Promise<RaceResult> {
  let staleEntries = 0;
  let staleAtEnd: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const work: Array<Promise<unknown>> = [];
    for (const id of IDS) {
      for (let i = 0; i < READS_PER_ID; i++) work.push(later(() => pick(participants).read(id)));
      work.push(later(() => pick(participants).update(id)));
    }
    await Promise.all(work);
    // Quiesced: nothing is in flight, so the cache must agree with the source.
    staleAtEnd = [];
    for (const id of IDS) {
      const entry = await cached(id);
      if (entry !== undefined && entry.version !== source(id).version) staleAtEnd.push(id);
    }
    staleEntries += staleAtEnd.length;
  }
  return { staleEntries, staleAtEnd };
}

/** The read-through everyone writes first: check, load, store. No lease, so it can store stale data. */
class NaiveRepository implements RaceParticipant {
  private readonly select: Database.Statement<[string], VersionedRow>;
  private readonly bump: Database.Statement<[string]>;

  constructor(
    private readonly cache: CacheService<unknown>,
    db: Database.Database,
  ) {
    this.select = db.prepare('SELECT id, version FROM rows WHERE id = ?');
    this.bump = db.prepare('UPDATE rows SET version = version + 1 WHERE id = ?');
  }

  async read(id: string): Promise<VersionedRow> {
    const hit = (await this.cache.get(`naive:${id}`)) as VersionedRow | undefined;
    if (hit !== undefined) return hit;
    const row = { ...this.select.get(id)! };
    await jitter(3);
    await this.cache.set(`naive:${id}`, row);
    return row;
  }

  async update(id: string): Promise<void> {
    this.bump.run(id);
    await this.cache.delete(`naive:${id}`);
  }
}

/**
 * The naive read-through on the tag path: its screening entry carries the subject's tag, and the
 * update is `invalidateSubject`; without a lease, a load from before the invalidation still lands.
 */
class NaiveTaggedRepository implements RaceParticipant {
  private readonly select: Database.Statement<[string], VersionedRow>;
  private readonly bump: Database.Statement<[string]>;

  constructor(
    private readonly cache: CacheService<unknown>,
    private readonly invalidator: CacheInvalidator,
    db: Database.Database,
  ) {
    this.select = db.prepare('SELECT id, version FROM rows WHERE id = ?');
    this.bump = db.prepare('UPDATE rows SET version = version + 1 WHERE id = ?');
  }

  async read(id: string): Promise<VersionedRow> {
    const hit = (await this.cache.get(`naive-of:${id}`)) as VersionedRow | undefined;
    if (hit !== undefined) return hit;
    const row = { ...this.select.get(id)! };
    await jitter(3);
    await this.cache.set(`naive-of:${id}`, row, { tags: [invalidationTags.subject(id)] });
    return row;
  }

  async update(id: string): Promise<void> {
    this.bump.run(id);
    await this.invalidator.invalidateSubject(id);
  }
}

/**
 * Redis: two applications ("processes") share the cache and the SQLite file, each with its own
 * connections, so cross-instance races happen too. Memory: one application (a memory cache is
 * per process, so a second instance would not see the first one's evictions by design).
 */
describe.each<[StoreKind, number]>([
  ['redis', 2],
  ['memory', 1],
])('no stale sets on the %s store with %i application(s)', (store, instanceCount) => {
  let directory: string;
  let apps: INestApplication[];
  let repositories: VersionedRepository[];
  let naiveDatabases: Database.Database[];
  const storeNamespace = `${namespace}${store}:`;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'elile-no-stale-sets-'));
    createRowsDatabase(join(directory, 'rows.db'), IDS);
    createRowsDatabase(join(directory, 'naive.db'), IDS);
    apps = [];
    for (let i = 0; i < instanceCount; i++) {
      apps.push(
        await createDecoratedApp({
          store,
          namespace: storeNamespace,
          providers: [
            rowsDatabaseProvider(join(directory, 'rows.db')),
            VersionedRepository,
            SubjectScreeningsRepository,
          ],
        }),
      );
    }
    repositories = apps.map((app) => app.get(VersionedRepository));
    naiveDatabases = apps.map(() => new Database(join(directory, 'naive.db')));
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    for (const repository of repositories) repository.close();
    for (const db of naiveDatabases) db.close();
    rmSync(directory, { recursive: true, force: true });
  });

  const rows = (app: INestApplication) => app.get(CacheRegistry).get<VersionedRow>('rows');

  it('@Cacheable + @CacheEvict: after every round, no cached entry differs from SQLite', async () => {
    const cache = rows(apps[0]);
    const result = await race(
      repositories,
      (id) => cache.get(id),
      (id) => repositories[0].current(id),
    );
    expect(result).toEqual({ staleEntries: 0, staleAtEnd: [] });

    // Every instance reads the same (Redis) or its own (memory) cache: none may be stale.
    for (const app of apps) {
      for (const id of IDS) {
        const entry = await rows(app).get(id);
        if (entry !== undefined) expect(entry).toEqual(repositories[0].current(id));
      }
    }
    // The race really happened: some fills were refused because an eviction overtook them.
    const discarded = apps.reduce((sum, app) => sum + rows(app).stats().staleFillsDiscarded, 0);
    expect(discarded).toBeGreaterThan(0);
  });

  it("CacheInvalidator.invalidateSubject: after every round, no screening cached with the subject's tag differs from SQLite", async () => {
    const screenings = (app: INestApplication) => app.get(CacheRegistry).get<VersionedRow>('screening');
    const cache = screenings(apps[0]);
    const result = await race(
      apps.map((app) => app.get(SubjectScreeningsRepository)),
      (id) => cache.get(`of:${id}`),
      (id) => repositories[0].current(id),
    );
    expect(result).toEqual({ staleEntries: 0, staleAtEnd: [] });
    for (const app of apps) {
      for (const id of IDS) {
        const entry = await screenings(app).get(`of:${id}`);
        if (entry !== undefined) expect(entry).toEqual(repositories[0].current(id));
      }
    }
    // Fills overtaken by the tag invalidation were refused: the race really happened on this path.
    const discarded = apps.reduce((sum, app) => sum + screenings(app).stats().staleFillsDiscarded, 0);
    expect(discarded).toBeGreaterThan(0);
  });

  it('the same race with a naive get/load/set read-through and invalidateSubject does leave stale entries', async () => {
    const naive = apps.map(
      (app, i) =>
        new NaiveTaggedRepository(
          app.get(CacheRegistry).get('screening'),
          app.get(CacheInvalidator),
          naiveDatabases[i],
        ),
    );
    const select = naiveDatabases[0].prepare<[string], VersionedRow>('SELECT id, version FROM rows WHERE id = ?');
    const cache = apps[0].get(CacheRegistry).get<VersionedRow>('screening');
    const result = await race(
      naive,
      (id) => cache.get(`naive-of:${id}`),
      (id) => select.get(id)!,
    );
    expect(result.staleEntries).toBeGreaterThan(0);
  });

  it('the same race with a naive get/load/set read-through does leave stale entries', async () => {
    const naive = apps.map((app, i) => new NaiveRepository(rows(app), naiveDatabases[i]));
    const select = naiveDatabases[0].prepare<[string], VersionedRow>('SELECT id, version FROM rows WHERE id = ?');
    const cache = rows(apps[0]);
    const result = await race(
      naive,
      (id) => cache.get(`naive:${id}`),
      (id) => select.get(id)!,
    );
    expect(result.staleEntries).toBeGreaterThan(0);
  });
});

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});
