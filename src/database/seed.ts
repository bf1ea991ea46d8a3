import type Database from 'better-sqlite3';

const STATUSES = ['pending', 'in_progress', 'complete'] as const;

/** Sample compliance rule sets: id, name, version, rules. */
const RULE_SETS: ReadonlyArray<[string, string, number, string[]]> = [
  ['fcra', 'Fair Credit Reporting Act', 3, ['consent-before-check', 'adverse-action-notice', 'seven-year-limit']],
  ['gdpr', 'General Data Protection Regulation', 2, ['lawful-basis', 'data-minimisation', 'erasure-on-request']],
  ['eeoc', 'EEOC arrest and conviction guidance', 1, ['individualised-assessment', 'job-relatedness']],
];

/**
 * Creates the schema and, in an empty database, sample data: 100 screenings (`scr-1` …
 * `scr-100`), each of its own subject (`sub-1` …), spread over 5 organizations (`org-1` …
 * `org-5`), and 3 compliance rule sets (`fcra`, `gdpr`, `eeoc`).
 */
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
    );
    CREATE TABLE IF NOT EXISTS subjects (
      id TEXT PRIMARY KEY,
      full_name TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS organizations (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS compliance_rule_sets (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      version INTEGER NOT NULL,
      -- JSON array of rule ids.
      rules TEXT NOT NULL
    )`);
  const { count } = database.prepare('SELECT COUNT(*) AS count FROM screenings').get() as { count: number };
  if (count > 0) return;
  const insertScreening = database.prepare(
    'INSERT INTO screenings (id, subject_id, org_id, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const insertSubject = database.prepare('INSERT INTO subjects (id, full_name, updated_at) VALUES (?, ?, ?)');
  const insertOrg = database.prepare('INSERT INTO organizations (id, name, updated_at) VALUES (?, ?, ?)');
  const insertRuleSet = database.prepare(
    'INSERT INTO compliance_rule_sets (id, name, version, rules) VALUES (?, ?, ?, ?)',
  );
  const created = new Date('2026-01-05T09:00:00Z').toISOString();
  database.transaction(() => {
    for (let i = 1; i <= 5; i++) insertOrg.run(`org-${i}`, `Organization ${i}`, created);
    for (let i = 1; i <= 100; i++) {
      insertSubject.run(`sub-${i}`, `Subject ${i}`, created);
      insertScreening.run(
        `scr-${i}`,
        `sub-${i}`,
        `org-${(i % 5) + 1}`,
        STATUSES[i % STATUSES.length],
        created,
        created,
      );
    }
    for (const [id, name, version, rules] of RULE_SETS) insertRuleSet.run(id, name, version, JSON.stringify(rules));
  })();
}
