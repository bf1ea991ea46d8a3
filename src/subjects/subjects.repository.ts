import { Inject, Injectable } from '@nestjs/common';
import { type CacheService, CacheInvalidator, InjectCache } from '@elile/cache';
import type Database from 'better-sqlite3';
import { DATABASE } from '../database/database.tokens';
import type { CacheOutcome } from '../screenings/screening';
import type { Subject } from './subject';

interface SubjectRow {
  id: string;
  full_name: string;
  updated_at: string;
}

/** The people screened, from SQLite, read through the `subject` domain. */
@Injectable()
export class SubjectsRepository {
  private readonly selectById: Database.Statement<[string], SubjectRow>;
  private readonly rename: Database.Statement<[string, string, string]>;

  constructor(
    @Inject(DATABASE) database: Database.Database,
    @InjectCache('subject') private readonly cache: CacheService<Subject | null>,
    private readonly invalidator: CacheInvalidator,
  ) {
    this.selectById = database.prepare('SELECT * FROM subjects WHERE id = ?');
    this.rename = database.prepare('UPDATE subjects SET full_name = ?, updated_at = ? WHERE id = ?');
  }

  async findById(id: string): Promise<{ subject: Subject | null; outcome: CacheOutcome }> {
    let outcome: CacheOutcome = 'HIT';
    const subject = await this.cache.getOrSet(id, () => {
      outcome = 'MISS';
      const row = this.selectById.get(id);
      return row ? toSubject(row) : null;
    });
    return { subject, outcome };
  }

  /**
   * Corrects a subject's name. Once committed, the subject's entries and every screening cached
   * with its tag (the screening itself, its report) are invalidated.
   */
  async correctName(id: string, fullName: string): Promise<Subject | null> {
    if (this.rename.run(fullName, new Date().toISOString(), id).changes === 0) return null;
    await this.invalidator.invalidateSubject(id);
    return toSubject(this.selectById.get(id)!);
  }
}

function toSubject(row: SubjectRow): Subject {
  return { id: row.id, fullName: row.full_name, updatedAt: new Date(row.updated_at) };
}
