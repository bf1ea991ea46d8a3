import { createHash } from 'node:crypto';
import { CacheArgumentError } from '../cache.errors';
import { INTERNAL_KEY_PREFIX } from '../cache.constants';
import { describe } from '../options/duration.util';

/** Keys longer than this are replaced by a hash, so a huge argument cannot make a huge key. */
const MAX_KEY_LENGTH = 200;
/** How much of a hashed key's start stays readable (for redis-cli); see {@link boundedKey}. */
const READABLE_START = 160;

/**
 * Where a domain keeps entries that belong to one scope (a tenant, a user). It starts with the
 * reserved prefix, which {@link checkKey} refuses in every key a caller passes, so no unscoped
 * key — whatever a URL, a header or a key function makes of it — can name a scoped entry.
 */
const SCOPED_SPACE = `${INTERNAL_KEY_PREFIX}scope:`;
/**
 * Where keys the library builds itself live — a method's class, name and arguments, a request's
 * target — so that no key a caller passes (a key function's result can come from the URL) fills
 * the entry of another handler or of a default-keyed method.
 */
const GENERATED_SPACE = `${INTERNAL_KEY_PREFIX}gen:`;

/**
 * Marks, in the options of a `CacheService` call, a key the library generated (internal: not
 * exported from the package, so only the library's own advice can name that space).
 */
export const GENERATED_KEY = Symbol('elile.cache.generatedKey');

/** The options field that {@link GENERATED_KEY} names. */
export interface GeneratedKeyOption {
  readonly [GENERATED_KEY]?: true;
}

/**
 * A caller's key, checked: a non-empty string outside the reserved key space.
 * @throws CacheArgumentError otherwise.
 */
export function checkKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new CacheArgumentError(`Cache keys must be non-empty strings, got ${describe(key)}`);
  }
  if (key.startsWith(INTERNAL_KEY_PREFIX)) {
    throw new CacheArgumentError(`Cache keys must not start with "${INTERNAL_KEY_PREFIX}" (reserved)`);
  }
  return key;
}

/**
 * A scope given by a caller, checked: a non-empty string.
 * @throws CacheArgumentError otherwise.
 */
export function checkScope(scope: unknown): string {
  if (typeof scope !== 'string' || scope.length === 0) {
    throw new CacheArgumentError(`A cache scope must be a non-empty string, got ${describe(scope)}`);
  }
  return scope;
}

/**
 * The key of an entry within its domain: a caller's key (checked), or a key the library generated,
 * optionally within a scope. The scope's length comes first, so `("a", "b:c")` and `("a:b", "c")`
 * stay apart: distinct (scope, key) pairs always give distinct keys.
 */
export function entryKey(key: string, scope?: string, generated = false): string {
  const local = generated ? boundedKey(GENERATED_SPACE + key) : checkKey(key);
  if (scope === undefined) return local;
  return boundedKey(`${SCOPED_SPACE}${checkScope(scope).length}:${scope}:${local}`);
}

/**
 * Hashes keys past the length bound, keeping their readable start. A hashed key is always longer
 * than {@link MAX_KEY_LENGTH} and a kept key never is, so no literal key can equal the hashed form
 * of another.
 */
export function boundedKey(key: string): string {
  if (key.length <= MAX_KEY_LENGTH) return key;
  const digest = createHash('sha256').update(key).digest('base64url');
  return `${key.slice(0, READABLE_START)}…#${digest}`;
}
