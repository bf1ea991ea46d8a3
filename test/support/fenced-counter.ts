import Database from 'better-sqlite3';

/**
 * A counter in SQLite shared by several processes: the protected resource of the lock tests.
 *
 * The fenced operations implement the README's recipe: the row keeps the highest fencing token it
 * has seen, and both reads and writes carrying a lower token are refused. Checking on writes only
 * is not enough (M8): B reads, stale A writes with a token still >= the last write's, B overwrites.
 */
export class FencedCounter {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // Several processes open the file; a writer waits for another's transaction instead of failing.
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL, fence INTEGER NOT NULL)',
    );
    this.db.prepare('INSERT OR IGNORE INTO counter (id, value, fence) VALUES (1, 0, 0)').run();
  }

  /** Unfenced read, as code that trusts its lock would do. */
  read(): number {
    return (this.db.prepare('SELECT value FROM counter WHERE id = 1').get() as { value: number }).value;
  }

  /** Unfenced write. */
  write(value: number): void {
    this.db.prepare('UPDATE counter SET value = ? WHERE id = 1').run(value);
  }

  /** Reads the value and records `token`; undefined when a higher token was seen (a stale holder). */
  readFenced(token: number): number | undefined {
    return this.db
      .transaction(() => {
        const seen = this.db.prepare('UPDATE counter SET fence = ? WHERE id = 1 AND fence <= ?').run(token, token);
        return seen.changes === 1 ? this.read() : undefined;
      })
      .immediate();
  }

  /** Writes unless a higher token was seen; returns whether it wrote. */
  writeFenced(token: number, value: number): boolean {
    return (
      this.db.prepare('UPDATE counter SET value = ?, fence = ? WHERE id = 1 AND fence <= ?').run(value, token, token)
        .changes === 1
    );
  }

  /** The highest token seen. */
  fence(): number {
    return (this.db.prepare('SELECT fence FROM counter WHERE id = 1').get() as { fence: number }).fence;
  }

  close(): void {
    this.db.close();
  }
}
