/** Injection token of the demo's SQLite connection (better-sqlite3). */
export const DATABASE = Symbol('demo.database');
