import { Inject, Injectable } from '@nestjs/common';
import { type CacheService, type CacheWarmer, InjectCache, type Warmup } from '@elile/cache';
import type Database from 'better-sqlite3';
import { DATABASE } from '../database/database.tokens';
import type { CacheOutcome } from '../screenings/screening';
import type { ComplianceRuleSet } from './rule-set';

interface RuleSetRow {
  id: string;
  name: string;
  version: number;
  rules: string;
}

/**
 * Compliance rule sets from SQLite, read through the `compliance` domain. Warmed at start-up as
 * a `CacheWarmer` class (the organizations use the `@CacheWarmer` decorator instead).
 */
@Injectable()
export class ComplianceRepository implements CacheWarmer<ComplianceRuleSet | null> {
  readonly cacheDomain = 'compliance';
  private readonly selectById: Database.Statement<[string], RuleSetRow>;
  private readonly selectAll: Database.Statement<[], RuleSetRow>;

  constructor(
    @Inject(DATABASE) database: Database.Database,
    @InjectCache('compliance') private readonly cache: CacheService<ComplianceRuleSet | null>,
  ) {
    this.selectById = database.prepare('SELECT * FROM compliance_rule_sets WHERE id = ?');
    this.selectAll = database.prepare('SELECT * FROM compliance_rule_sets ORDER BY id');
  }

  async findById(id: string): Promise<{ ruleSet: ComplianceRuleSet | null; outcome: CacheOutcome }> {
    let outcome: CacheOutcome = 'HIT';
    const ruleSet = await this.cache.getOrSet(id, () => {
      outcome = 'MISS';
      const row = this.selectById.get(id);
      return row ? toRuleSet(row) : null;
    });
    return { ruleSet, outcome };
  }

  /** The rule sets are few: one query reads them all, and `load` picks the absent ones. */
  cacheWarmup(): Warmup<ComplianceRuleSet | null> {
    const all = new Map(this.selectAll.all().map((row) => [row.id, toRuleSet(row)]));
    return { keys: [...all.keys()], load: (ids) => ids.map((id) => all.get(id) ?? null) };
  }
}

function toRuleSet(row: RuleSetRow): ComplianceRuleSet {
  return { id: row.id, name: row.name, version: row.version, rules: JSON.parse(row.rules) as string[] };
}
