import { CacheConfigurationError } from '../cache.errors';
import { describe } from './duration.util';

/**
 * The keys of an options type, listed as `{ key: true, … }` so that the compiler refuses a list
 * that misses an option or names one the type does not have: a new option cannot be refused as
 * unknown because someone forgot to list it.
 */
export const keysOf = <T>(keys: Record<keyof T, true>): readonly string[] => Object.freeze(Object.keys(keys));

/** Edits between two names, where swapping two neighbours (the commonest typo) is one edit. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const substitution = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
      }
    }
  }
  return rows[a.length][b.length];
}

/**
 * The known name a misspelled one most likely meant: letter case is ignored, and one edit (two
 * for names of six characters or more) is allowed, so that a suggestion is a plausible typo, not
 * a guess; long names such as environment variables differ from each other by more than that.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance <= (candidate.length >= 6 ? 2 : 1) && (!best || distance < best.distance)) {
      best = { name: candidate, distance };
    }
  }
  return best?.name;
}

/** Refuses an options section (at `path`, `''` for the top level) that is not a plain object. */
export function assertOptionsObject(value: unknown, path: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const where = path === '' ? 'CacheModule options' : `CacheModule option "${path}"`;
    // A string in place of a section is often a URL, which may hold a password: not repeated.
    const got = typeof value === 'string' ? 'a string' : describe(value);
    throw new CacheConfigurationError(`${where} must be an object, got ${got}`);
  }
}

/**
 * Refuses an options section (at `path`, `''` for the top level) that holds a key the module does
 * not know, naming each such key by its full path: a misspelled option would otherwise be ignored
 * and its default used without a word. An absent section is fine. `hint` tells where options that
 * are not the module's belong (e.g. ioredis's own).
 */
export function assertKnownKeys(value: unknown, known: readonly string[], path: string, hint?: string): void {
  if (value === undefined) return;
  assertOptionsObject(value, path);
  const unknown = Object.keys(value as object).filter((key) => !known.includes(key));
  if (unknown.length === 0) return;
  const full = (key: string) => (path === '' ? key : `${path}.${key}`);
  const named = unknown.map((key) => {
    const suggestion = closestName(key, known);
    return suggestion === undefined ? `"${full(key)}"` : `"${full(key)}" (did you mean "${full(suggestion)}"?)`;
  });
  throw new CacheConfigurationError(
    `Unknown CacheModule option${unknown.length > 1 ? 's' : ''} ${named.join(', ')}. ` +
      `Known ${path === '' ? 'at the top level' : `in "${path}"`}: ${known.map((key) => `"${key}"`).join(', ')}` +
      (hint ? `; ${hint}` : ''),
  );
}
