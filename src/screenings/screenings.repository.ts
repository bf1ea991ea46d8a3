import { Inject, Injectable } from '@nestjs/common';
import { type CacheService, InjectCache, invalidationTags } from '@elile/cache';
import type Database from 'better-sqlite3';
import { DATABASE } from '../database/database.tokens';
import type { CacheOutcome, Screening, ScreeningReport } from './screening';
import { StaleWriteError } from './stale-write.error';

interface ScreeningRow {
  id: string;
  subject_id: string;
  org_id: string;
  status: Screening['status'];
  created_at: string;
  updated_at: string;
}

interface ReportRow {
  id: string;
  status: Screening['status'];
  org_id: string;
  subject_id: string;
  full_name: string;
}

/** A screening is derived from its subject: cached with the subject's tag, a correction reaches it. */
const screeningTags = (id: string, subjectId: string) => [
  invalidationTags.screening(id),
  invalidationTags.subject(subjectId),
];

/** Screenings from SQLite, read through the `screening` cache domain. */
@Injectable()
export class ScreeningsRepository {
  private readonly selectById: Database.Statement<[string], ScreeningRow>;
  private readonly claimFence: Database.Statement<[number, string, number]>;
  private readonly writeStatus: Database.Statement<[string, string, string, number]>;
  private readonly selectReport: Database.Statement<[string], ReportRow>;

  constructor(
    @Inject(DATABASE) database: Database.Database,
    @InjectCache('screening') private readonly cache: CacheService<Screening | null>,
    // The same domain, typed for the derived entries.
    @InjectCache('screening') private readonly reports: CacheService<ScreeningReport | null>,
  ) {
    this.selectById = database.prepare('SELECT * FROM screenings WHERE id = ?');
    this.claimFence = database.prepare('UPDATE screenings SET fence = ? WHERE id = ? AND fence <= ?');
    this.writeStatus = database.prepare('UPDATE screenings SET status = ?, updated_at = ? WHERE id = ? AND fence <= ?');
    this.selectReport = database.prepare(
      'SELECT s.id, s.status, s.org_id, s.subject_id, j.full_name FROM screenings s JOIN subjects j ON j.id = s.subject_id WHERE s.id = ?',
    );
  }

  /**
   * Reads a screening for a change under a lock. The fencing token is recorded on the read, so a
   * holder older than one that already read the row is refused here, before it computes anything.
   * @returns null when the screening does not exist.
   * @throws StaleWriteError when a newer lock holder has read or written the row.
   */
  loadForUpdate(id: string, fence: number): Screening | null {
    const row = this.selectById.get(id);
    if (!row) return null;
    if (this.claimFence.run(fence, id, fence).changes === 0) throw new StaleWriteError(id);
    return toScreening(row);
  }

  /** @throws StaleWriteError when a newer lock holder has come by since `loadForUpdate`. */
  saveStatus(id: string, status: Screening['status'], fence: number): void {
    if (this.writeStatus.run(status, new Date().toISOString(), id, fence).changes === 0) {
      throw new StaleWriteError(id);
    }
  }

  /**
   * A missing screening is cached as `null` too, so repeated lookups of an unknown id do not reach
   * the database either.
   */
  async findById(id: string): Promise<{ screening: Screening | null; outcome: CacheOutcome }> {
    let outcome: CacheOutcome = 'HIT';
    const screening = await this.cache.getOrSet(
      id,
      () => {
        outcome = 'MISS';
        const row = this.selectById.get(id);
        return row ? toScreening(row) : null;
      },
      { tags: (found) => (found ? screeningTags(id, found.subjectId) : []) },
    );
    return { screening, outcome };
  }

  /**
   * The screening's report, a derived entry (`<id>:report`): tagged with its screening and its
   * subject, so a status change and a subject correction both invalidate it.
   */
  async report(id: string): Promise<{ report: ScreeningReport | null; outcome: CacheOutcome }> {
    let outcome: CacheOutcome = 'HIT';
    const report = await this.reports.getOrSet(
      `${id}:report`,
      () => {
        outcome = 'MISS';
        const row = this.selectReport.get(id);
        return row ? toReport(row) : null;
      },
      { tags: (found) => (found ? screeningTags(id, found.subject.id) : []) },
    );
    return { report, outcome };
  }
}

function toReport(row: ReportRow): ScreeningReport {
  return {
    screeningId: row.id,
    status: row.status,
    orgId: row.org_id,
    subject: { id: row.subject_id, fullName: row.full_name },
    generatedAt: new Date(),
  };
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
