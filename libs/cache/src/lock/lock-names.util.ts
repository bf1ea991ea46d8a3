import { CacheArgumentError } from '../cache.errors';

/** The Redis names that belong to one lock. */
export interface LockNames {
  /** The caller's key, for messages. */
  readonly key: string;
  /** Holds `<owner>:<fencing token>` while the lock is held. */
  readonly lock: string;
  /** The per-key fencing counter. */
  readonly fence: string;
  /** Pub/sub channel on which a release is announced. */
  readonly channel: string;
}

/**
 * Builds `${namespace}${prefix}{${key}}`, `…}:fence` and `…}:released`.
 *
 * The braces are a Redis Cluster hash tag: only the text between the first `{` and the first `}`
 * after it is hashed, so all three names land in one slot and one Lua script may touch them.
 * `}` (and `%`, to keep the encoding reversible) are percent-encoded in the key, so the first `}`
 * after our `{` is always ours and any key works — a key starting with `}` would otherwise leave
 * an empty tag and Redis would hash each whole name to a different slot. A `{` in the namespace
 * or prefix only moves the tag earlier; the three names still share it, because they differ
 * only after the key (resolve-options refuses the one combination that leaves the tag empty).
 */
export function lockNames(namespace: string, prefix: string, key: string): LockNames {
  if (typeof key !== 'string' || key.length === 0) {
    throw new CacheArgumentError(
      `Lock keys must be non-empty strings, got ${key === '' ? 'an empty string' : typeof key}`,
    );
  }
  const lock = `${namespace}${prefix}{${key.replace(/[%}]/g, (c) => (c === '%' ? '%25' : '%7D'))}}`;
  return { key, lock, fence: `${lock}:fence`, channel: `${lock}:released` };
}
