import { CacheArgumentError } from '../cache.errors';
import type { CacheService } from '../caches/cache.service';
import { describe } from '../options/duration.util';
import { escapeGlob } from '../redis/glob.util';
import { keyvNamespacePrefix } from './keyv-namespace.util';

/** One entry of {@link ElileKeyvStore.setMany}, as Keyv passes it: `ttl` in milliseconds. */
export interface ElileKeyvEntry {
  key: string;
  value: unknown;
  ttl?: number;
}

/**
 * A Keyv storage adapter over one domain's `CacheService`, so that Keyv, cache-manager and
 * `@nestjs/cache-manager` keep their entries in that domain: its codec, prefix, namespace, stats,
 * command deadlines and failure policy apply.
 *
 * ```ts
 * const keyv = new Keyv({ store: new ElileKeyvStore(registry.get('screening')), namespace: 'api' });
 * ```
 *
 * - **Cheap and connection-neutral.** It holds a reference to the cache and nothing else: build
 *   one per Keyv instance (Keyv writes its namespace onto the store it is given, so two Keyv
 *   instances sharing one store would share the last namespace set). It never opens, owns or
 *   closes the connection, and has no `disconnect()`, so `keyv.disconnect()` and cache-manager's
 *   shutdown leave the module's connection alone (Nest closes it with the app).
 * - **Keys.** A Keyv key `k` in namespace `ns` is stored under the domain's key
 *   `keyv:<length of ns>:<ns>:<k>` (`keyv:-:<k>` without a namespace), with `k` exactly as Keyv
 *   passes it (Keyv 5 has already put `ns:` in front of it). `clear()` deletes the current
 *   namespace's keys only, by a glob-escaped SCAN: no other namespace, no namespace that merely
 *   starts the same (`a` vs `a:b`), and none of the domain's other entries. Give Keyv a domain of
 *   its own, or keep the domain's other keys from starting with `keyv:`.
 * - **TTLs** arrive in milliseconds, as Keyv passes them, and are stored as the same number of
 *   milliseconds. Without one, the entry lives for the domain's TTL: a domain never keeps entries
 *   forever. A TTL that is not a positive number is refused with `CacheArgumentError`.
 * - **Values** are what Keyv hands over: with Keyv's default serializer a JSON string, which the
 *   domain's codec stores as a string; with serialization turned off (`serialize: undefined` in
 *   Keyv 5, `serialization: false` in Keyv 6) the `{ value, expires }` object itself, which the
 *   domain's codec encodes (Dates, Buffers, Maps and BigInts round-trip; `undefined` inside it is
 *   refused like any value the codec cannot hold).
 * - **Failures** follow `CacheService`: reads of an unreachable or slow Redis are misses and
 *   `set` resolves `false` (both counted in the domain's `stats()` and logged there); a value the
 *   codec refuses, a bad key or TTL, and an invalidation (`delete`, `deleteMany`, `clear`) that
 *   may not have happened reject with the library's typed error. The store emits no events of
 *   its own, so each failure is reported once: Keyv turns a rejection into its `'error'` event
 *   and a `false` result, or rethrows it with `throwOnErrors: true` (Keyv 6 rethrows when nothing
 *   listens to `'error'`). Use `throwOnErrors` where a lost invalidation must not go unnoticed.
 *
 * It is a legacy (relative-TTL) adapter in Keyv 6's terms: Keyv 6 wraps it in its
 * `KeyvBridgeAdapter`, which turns the absolute `expires` back into a TTL and hands the
 * namespace to this store. It offers no `iterator()` (the cache has no key listing), so
 * `keyv.iterator` is unavailable.
 */
export class ElileKeyvStore {
  /** The current Keyv namespace; Keyv sets it on the store it is given. */
  namespace: string | undefined = undefined;
  /** Adapter options, which Keyv 5's adapter type requires and its test suite writes to; unused. */
  readonly opts: Record<string, unknown> = {};

  constructor(private readonly cache: CacheService<unknown>) {}

  async get(key: string): Promise<unknown> {
    return this.cache.get(this.keyOf(key));
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    if (keys.length === 0) return [];
    return this.cache.getMany(keys.map((key) => this.keyOf(key)));
  }

  async has(key: string): Promise<boolean> {
    return this.cache.exists(this.keyOf(key));
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((key) => this.has(key)));
  }

  /** Resolves false when the cache could not store the value (counted and logged by the domain). */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    return this.cache.set(this.keyOf(key), value, secondsOf(ttl));
  }

  /** One round trip; every entry is checked and encoded before anything is written. */
  async setMany(entries: ElileKeyvEntry[]): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const stored = await this.cache.setMany(
      entries.map(({ key, value, ttl }) => ({ key: this.keyOf(key), value, ttl: secondsOf(ttl) })),
    );
    return entries.map(() => stored);
  }

  async delete(key: string): Promise<boolean> {
    return this.cache.delete(this.keyOf(key));
  }

  /** Whether every key existed (what Keyv 5 reports when it deletes them one by one). */
  async deleteMany(keys: string[]): Promise<boolean> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return true;
    return (await this.cache.deleteMany(unique.map((key) => this.keyOf(key)))) === unique.length;
  }

  /** Deletes the entries of the current namespace only. */
  async clear(): Promise<void> {
    await this.cache.invalidatePattern(`${escapeGlob(keyvNamespacePrefix(this.namespace))}*`);
  }

  /**
   * Keyv subscribes to its store's `'error'` event; this store has none to emit (see the class
   * notes), so subscribing is accepted and nothing is kept.
   */
  on(): this {
    return this;
  }

  private keyOf(key: string): string {
    if (typeof key !== 'string') {
      throw new CacheArgumentError(`Keyv keys must be strings, got ${describe(key)}`);
    }
    return keyvNamespacePrefix(this.namespace) + key;
  }
}

function secondsOf(ttlMs: number | undefined): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new CacheArgumentError(`Keyv TTLs are positive numbers of milliseconds, got ${describe(ttlMs)}`);
  }
  return ttlMs / 1000;
}
