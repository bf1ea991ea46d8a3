import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import Database from 'better-sqlite3';
import { DATABASE } from './database.tokens';
import { seedDatabase } from './seed';

/**
 * The demo's source of truth: an embedded SQLite database (`ELILE_DEMO_DATABASE`, default an
 * in-memory database seeded with sample screenings).
 */
@Global()
@Module({
  providers: [
    {
      provide: DATABASE,
      useFactory: () => {
        const database = new Database(process.env.ELILE_DEMO_DATABASE ?? ':memory:');
        database.pragma('journal_mode = WAL');
        seedDatabase(database);
        return database;
      },
    },
  ],
  exports: [DATABASE],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(DATABASE) private readonly database: Database.Database) {}

  onApplicationShutdown(): void {
    this.database.close();
  }
}
