import { Inject, Injectable } from '@nestjs/common';
import { type CacheService, InjectCache } from '@elile/cache';
import type Database from 'better-sqlite3';
import { DATABASE } from '../database/database.tokens';
import type { CacheOutcome, Screening } from './screening';

interface ScreeningRow {
  id: string;
  subject_id: string;
  org_id: string;
  status: Screening['status'];
  created_at: string;
  updated_at: string;
}

/** Screenings from SQLite, read through the `screening` cache domain. */
@Injectable()
export class ScreeningsRepository {
  private readonly selectById: Database.Statement<[string], ScreeningRow>;

  constructor(
    @Inject(DATABASE) database: Database.Database,
    @InjectCache('screening') private readonly cache: CacheService<Screening | null>,
  ) {
    this.selectById = database.prepare('SELECT * FROM screenings WHERE id = ?');
  }

  /**
   * A missing screening is cached as `null` too, so repeated lookups of an unknown id do not reach
   * the database either.
   */
  async findById(id: string): Promise<{ screening: Screening | null; outcome: CacheOutcome }> {
    let outcome: CacheOutcome = 'HIT';
    const screening = await this.cache.getOrSet(id, () => {
      outcome = 'MISS';
      const row = this.selectById.get(id);
      return row ? toScreening(row) : null;
    });
    return { screening, outcome };
  }
}

function toScreening(row: ScreeningRow): Screening {
  return {
    id: row.id,
    subjectId: row.subject_id,
    orgId: row.org_id,
    status: row.status,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}
