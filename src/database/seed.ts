import type Database from 'better-sqlite3';

const STATUSES = ['pending', 'in_progress', 'complete'] as const;

/** Creates the schema and, in an empty database, 100 sample screenings (`scr-1` … `scr-100`). */
export function seedDatabase(database: Database.Database): void {
  database.exec(`
    CREATE TABLE IF NOT EXISTS screenings (
      id TEXT PRIMARY KEY,
      subject_id TEXT NOT NULL,
      org_id TEXT NOT NULL,
      status TEXT NOT NULL,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      -- Highest lock fencing token seen; writers holding a lower one are stale.
      fence INTEGER NOT NULL DEFAULT 0
    )`);
  const { count } = database.prepare('SELECT COUNT(*) AS count FROM screenings').get() as { count: number };
  if (count > 0) return;
  const insert = database.prepare(
    'INSERT INTO screenings (id, subject_id, org_id, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const created = new Date('2026-01-05T09:00:00Z').toISOString();
  database.transaction(() => {
    for (let i = 1; i <= 100; i++) {
      insert.run(`scr-${i}`, `sub-${i}`, `org-${(i % 5) + 1}`, STATUSES[i % STATUSES.length], created, created);
    }
  })();
}
