import { createHash } from 'node:crypto';
import { INTERNAL_KEY_PREFIX } from '../cache.constants';

/**
 * Where throttler records live, after the namespace: inside the module's reserved `__elile:`
 * space, which no domain prefix and no lock prefix may overlap (refused at boot), and with a `#`,
 * which no domain name may contain, so it is not the tag index space of any domain either.
 */
export const THROTTLE_KEY_PREFIX = `${INTERNAL_KEY_PREFIX}#throttle:`;

/**
 * The Redis key of one throttler's record for one tracker key. The name goes in with its length
 * first, so that no (name, key) pair can spell another's (`"a:b"` + `"c"` vs `"a"` + `"b:c"`); the
 * key is hashed, so that whatever a custom `generateKey` builds from a request (a forwarded-for
 * header, a path) has a fixed length and no character Redis or an operator's glob would read.
 */
export function throttleKey(prefix: string, throttlerName: string, key: string): string {
  const digest = createHash('sha256').update(key).digest('hex');
  return `${prefix}${throttlerName.length}:${throttlerName}:${digest}`;
}
