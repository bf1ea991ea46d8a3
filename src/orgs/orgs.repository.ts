import { Inject, Injectable } from '@nestjs/common';
import {
  type CacheService,
  CacheInvalidator,
  CacheWarmer,
  InjectCache,
  invalidationTags,
  type Warmup,
} from '@elile/cache';
import type Database from 'better-sqlite3';
import { DATABASE } from '../database/database.tokens';
import type { CacheOutcome } from '../screenings/screening';
import type { Organization } from './organization';

interface OrganizationRow {
  id: string;
  name: string;
  updated_at: string;
}

/** Organizations from SQLite, read through the `org` domain and warmed at start-up. */
@Injectable()
export class OrgsRepository {
  private readonly selectById: Database.Statement<[string], OrganizationRow>;
  private readonly selectIds: Database.Statement<[], { id: string }>;
  private readonly selectMany: Database.Statement<[string], OrganizationRow>;
  private readonly rename: Database.Statement<[string, string, string]>;

  constructor(
    @Inject(DATABASE) database: Database.Database,
    @InjectCache('org') private readonly cache: CacheService<Organization | null>,
    private readonly invalidator: CacheInvalidator,
  ) {
    this.selectById = database.prepare('SELECT * FROM organizations WHERE id = ?');
    this.selectIds = database.prepare('SELECT id FROM organizations ORDER BY id');
    this.selectMany = database.prepare('SELECT * FROM organizations WHERE id IN (SELECT value FROM json_each(?))');
    this.rename = database.prepare('UPDATE organizations SET name = ?, updated_at = ? WHERE id = ?');
  }

  async findById(id: string): Promise<{ organization: Organization | null; outcome: CacheOutcome }> {
    let outcome: CacheOutcome = 'HIT';
    const organization = await this.cache.getOrSet(id, () => {
      outcome = 'MISS';
      const row = this.selectById.get(id);
      return row ? toOrganization(row) : null;
    });
    return { organization, outcome };
  }

  /** Renames an organization; its cached entries are invalidated once the change is committed. */
  async updateName(id: string, name: string): Promise<Organization | null> {
    if (this.rename.run(name, new Date().toISOString(), id).changes === 0) return null;
    await this.invalidator.invalidateOrg(id);
    return toOrganization(this.selectById.get(id)!);
  }

  /** Every organization, loaded in one query per batch of ids. */
  @CacheWarmer('org')
  warmAll(): Warmup<Organization | null> {
    return {
      keys: this.selectIds.all().map(({ id }) => id),
      load: (ids) => {
        const byId = new Map(this.selectMany.all(JSON.stringify(ids)).map((row) => [row.id, toOrganization(row)]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      tags: (_organization, id) => [invalidationTags.org(id)],
    };
  }
}

function toOrganization(row: OrganizationRow): Organization {
  return { id: row.id, name: row.name, updatedAt: new Date(row.updated_at) };
}
