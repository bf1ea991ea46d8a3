import { CacheArgumentError } from '../cache.errors';
import { invalidationMessages } from '../cache.messages';
import { describe } from '../options/duration.util';

const KIND = /^[A-Za-z0-9_.-]+$/;

/**
 * The tag that marks an entry as derived from entity `id` of `kind`: `${kind}:${id}`. Kinds hold
 * no `:`, so the first `:` splits a tag back into its kind and id — distinct (kind, id) pairs
 * always give distinct tags, whatever the id contains (`:`, `*`, `?`, `[`, `]`, `\`: tags are
 * exact strings, never patterns). Tag entries with it so that `CacheInvalidator` rules reach them.
 * @throws CacheArgumentError for a kind that is not letters, digits, `_`, `.` or `-`, or an id
 *   that is not a non-empty string.
 * @example invalidationTag('ruleset', 'fcra-2026') // 'ruleset:fcra-2026'
 */
export function invalidationTag(kind: string, id: string): string {
  if (typeof kind !== 'string' || !KIND.test(kind))
    throw new CacheArgumentError(invalidationMessages.badTagKind(describe(kind)));
  if (typeof id !== 'string' || id === '') throw new CacheArgumentError(invalidationMessages.badId(describe(id)));
  return `${kind}:${id}`;
}

/**
 * The tags of the built-in rules, so that callers tag entries the way the rules invalidate them:
 * a screening's derived entries (`<id>:report`) carry `screening(id)`, and every screening entry
 * carries `subject(subjectId)` — `invalidateSubject` reaches screenings only through it.
 * @example
 * screenings.getOrSet(`${id}:report`, load, {
 *   tags: (report) => [invalidationTags.screening(id), invalidationTags.subject(report.subjectId)],
 * });
 */
export const invalidationTags = Object.freeze({
  /** Entries derived from screening `id` (in the screening domain). */
  screening: (id: string): string => invalidationTag('screening', id),
  /** Entries derived from subject `id` (in the subject and screening domains). */
  subject: (id: string): string => invalidationTag('subject', id),
  /** Entries derived from organization `id` (in the org domain). */
  org: (id: string): string => invalidationTag('org', id),
});
