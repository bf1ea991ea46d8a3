import { Injectable } from '@nestjs/common';
import { CacheArgumentError, CacheInvalidationError, type InvalidationFailure } from '../cache.errors';
import { invalidationMessages } from '../cache.messages';
import { CacheRegistry } from '../caches/cache.registry';
import type { CacheService } from '../caches/cache.service';
import { describe } from '../options/duration.util';
import { escapeGlob } from '../redis/glob.util';
import { errorMessage } from '../support/error-message';
import { invalidationTags } from './invalidation-tags';

/** What one rule removes from one domain. Keys and tags are exact; ids are never patterns. */
export interface InvalidationPart {
  /** The cache domain. */
  readonly domain: string;
  /** Keys to delete (within the domain, as given to `CacheService`). */
  readonly keys?: readonly string[];
  /** Tags whose entries to delete (see `invalidationTag`). */
  readonly tags?: readonly string[];
  /**
   * Redis glob patterns (within the domain) swept with SCAN: their cost grows with the keyspace,
   * not with the entries removed. Only for opt-in sweeps; escape ids with `escapeGlob`.
   */
  readonly patterns?: readonly string[];
}

/** Options of the screening and org rules. */
export interface InvalidationRuleOptions {
  /**
   * Also delete the domain's keys under `<id>:` with a SCAN sweep, as the sketch's rules did:
   * for derived entries cached without their parent's tag. The id is escaped, so it matches only
   * itself; but a sweep visits the whole keyspace (O(keyspace), against O(entries) for tags).
   * @default false
   */
  scan?: boolean;
}

/** Ids for `invalidateBatch`; each list may be omitted or empty. */
export interface InvalidationBatch {
  readonly screeningIds?: readonly string[];
  readonly subjectIds?: readonly string[];
  readonly orgIds?: readonly string[];
}

interface DomainWork {
  readonly cache: CacheService<unknown>;
  readonly keys: Set<string>;
  readonly tags: Set<string>;
  readonly patterns: Set<string>;
}

/** How many failed parts the error message spells out; the error's `notInvalidated` has them all. */
const PARTS_IN_MESSAGE = 5;
/** How many keys or tags of one part the message spells out. */
const ITEMS_IN_MESSAGE = 5;

/**
 * The sketch's invalidation rules, on tags: each costs a few round trips and work that grows with
 * the entries it removes, not with the keyspace.
 *
 * - `invalidateScreening(id)`: the screening entry `id` and every screening entry tagged
 *   `invalidationTags.screening(id)` (its derived entries, e.g. `<id>:report`).
 * - `invalidateSubject(id)`: the subject entry `id`, the subject entries tagged
 *   `invalidationTags.subject(id)`, and every screening entry tagged with it (a screening is
 *   cached with its subject's tag).
 * - `invalidateOrg(id)`: the org entry `id` and every org entry tagged `invalidationTags.org(id)`.
 * - `invalidateBatch({ screeningIds, subjectIds, orgIds })`: all of those at once, in a bounded
 *   number of round trips (one delete and one tag invalidation per domain, whatever the ids).
 *
 * Failure policy, as for `CacheService` invalidations: every part of a rule is attempted, and a
 * rule that could not be carried out in full throws `CacheInvalidationError` naming what may
 * still be cached. Once a rule resolves, no read-through that began before it can store an older
 * value (leases and tag markers refuse such fills).
 *
 * Add a rule by extending the class: build `InvalidationPart`s and hand them to `invalidate`,
 * or override a `…Parts` method to widen a built-in rule (the batch follows).
 * @example
 * @Injectable()
 * export class PlatformInvalidator extends CacheInvalidator {
 *   invalidateComplianceRuleSet(id: string): Promise<number> {
 *     return this.invalidate('invalidateComplianceRuleSet', [
 *       { domain: 'compliance', keys: [id], tags: [invalidationTag('ruleset', id)] },
 *     ]);
 *   }
 * }
 */
@Injectable()
export class CacheInvalidator {
  constructor(protected readonly caches: CacheRegistry) {}

  /**
   * Removes a screening and its derived entries. Returns how many entries were removed.
   * @throws CacheInvalidationError when some of it may still be cached.
   */
  invalidateScreening(id: string, options?: InvalidationRuleOptions): Promise<number> {
    return this.invalidate('invalidateScreening', this.screeningParts(id, options));
  }

  /**
   * Removes a subject, its derived entries and every screening cached with its tag. Returns how
   * many entries were removed.
   * @throws CacheInvalidationError when some of it may still be cached.
   */
  invalidateSubject(id: string): Promise<number> {
    return this.invalidate('invalidateSubject', this.subjectParts(id));
  }

  /**
   * Removes an organization and its derived entries. Returns how many entries were removed.
   * @throws CacheInvalidationError when some of it may still be cached.
   */
  invalidateOrg(id: string, options?: InvalidationRuleOptions): Promise<number> {
    return this.invalidate('invalidateOrg', this.orgParts(id, options));
  }

  /**
   * The three rules for many ids at once, merged per domain: one delete of all keys and one tag
   * invalidation of all tags per domain, the domains concurrently — a bounded number of round
   * trips, not one per id. `options` applies to the screening and org rules.
   * @throws CacheInvalidationError when some of it may still be cached.
   * @throws CacheArgumentError for a list that is not an array or an id that is not a non-empty
   *   string, before anything is removed.
   */
  invalidateBatch(batch: InvalidationBatch, options?: InvalidationRuleOptions): Promise<number> {
    const ids = (field: keyof InvalidationBatch): readonly string[] => {
      const list = batch?.[field] ?? [];
      if (!Array.isArray(list)) throw new CacheArgumentError(invalidationMessages.badIdList(field, describe(list)));
      return list;
    };
    return this.invalidate('invalidateBatch', [
      ...ids('screeningIds').flatMap((id) => this.screeningParts(id, options)),
      ...ids('subjectIds').flatMap((id) => this.subjectParts(id)),
      ...ids('orgIds').flatMap((id) => this.orgParts(id, options)),
    ]);
  }

  /** What `invalidateScreening(id)` removes. */
  protected screeningParts(id: string, options?: InvalidationRuleOptions): InvalidationPart[] {
    return [
      { domain: 'screening', keys: [id], tags: [invalidationTags.screening(id)], patterns: derivedKeys(id, options) },
    ];
  }

  /** What `invalidateSubject(id)` removes. */
  protected subjectParts(id: string): InvalidationPart[] {
    const tag = invalidationTags.subject(id);
    return [
      { domain: 'subject', keys: [id], tags: [tag] },
      { domain: 'screening', tags: [tag] },
    ];
  }

  /** What `invalidateOrg(id)` removes. */
  protected orgParts(id: string, options?: InvalidationRuleOptions): InvalidationPart[] {
    return [{ domain: 'org', keys: [id], tags: [invalidationTags.org(id)], patterns: derivedKeys(id, options) }];
  }

  /**
   * Carries out parts: merged per domain, each domain's keys deleted in one call and its tags
   * invalidated in one call, every call attempted, the domains concurrently. `rule` names the
   * rule in the error. Returns how many entries were removed.
   * @throws CacheArgumentError | CacheConfigurationError for a bad key or an unknown domain, before
   *   anything is removed.
   * @throws CacheInvalidationError naming every part that failed, once all have settled.
   */
  protected async invalidate(rule: string, parts: readonly InvalidationPart[]): Promise<number> {
    const work = this.plan(parts);
    const calls = [...work.entries()].flatMap(([domain, { cache, keys, tags, patterns }]) => [
      ...(keys.size ? [attempt({ domain, keys: [...keys] }, () => cache.deleteMany([...keys]))] : []),
      ...(tags.size ? [attempt({ domain, tags: [...tags] }, () => cache.invalidateTags([...tags]))] : []),
      ...[...patterns].map((pattern) =>
        attempt({ domain, patterns: [pattern] }, () => cache.invalidatePattern(pattern)),
      ),
    ]);
    const outcomes = await Promise.all(calls);
    const failures = outcomes.filter((outcome): outcome is InvalidationFailure => typeof outcome !== 'number');
    if (failures.length > 0) {
      const described = failures.slice(0, PARTS_IN_MESSAGE).map(describeFailure);
      throw new CacheInvalidationError(invalidationMessages.failed(rule, described, failures.length), rule, failures);
    }
    return outcomes.reduce<number>((sum, removed) => sum + (removed as number), 0);
  }

  /** Merges parts per domain, checking every key, tag and domain first. */
  private plan(parts: readonly InvalidationPart[]): Map<string, DomainWork> {
    const work = new Map<string, DomainWork>();
    for (const { domain, keys = [], tags = [], patterns = [] } of parts) {
      let entry = work.get(domain);
      if (!entry) {
        entry = { cache: this.caches.get(domain), keys: new Set(), tags: new Set(), patterns: new Set() };
        work.set(domain, entry);
      }
      for (const key of keys) {
        // Refuses a bad key now, rather than after other domains were already invalidated.
        entry.cache.fullKey(key);
        entry.keys.add(key);
      }
      for (const tag of tags) {
        if (typeof tag !== 'string' || tag === '')
          throw new CacheArgumentError(invalidationMessages.badTag(describe(tag)));
        entry.tags.add(tag);
      }
      for (const pattern of patterns) entry.patterns.add(pattern);
    }
    return work;
  }
}

function derivedKeys(id: string, options: InvalidationRuleOptions | undefined): string[] {
  return options?.scan ? [`${escapeGlob(id)}:*`] : [];
}

/** Runs one call of a rule; a failure comes back as the part it leaves undone. */
async function attempt(
  part: { domain: string; keys?: string[]; tags?: string[]; patterns?: string[] },
  call: () => Promise<number>,
): Promise<number | InvalidationFailure> {
  try {
    return await call();
  } catch (error) {
    return { domain: part.domain, keys: part.keys ?? [], tags: part.tags ?? [], patterns: part.patterns ?? [], error };
  }
}

function describeFailure({ domain, keys, tags, patterns, error }: InvalidationFailure): string {
  const list = (kind: 'keys' | 'tags' | 'patterns', items: readonly string[]) =>
    invalidationMessages.items(kind, items.slice(0, ITEMS_IN_MESSAGE), items.length - ITEMS_IN_MESSAGE);
  const what = keys.length ? list('keys', keys) : tags.length ? list('tags', tags) : list('patterns', patterns);
  return invalidationMessages.failedPart(domain, what, errorMessage(error));
}
