/* eslint-disable @typescript-eslint/no-explicit-any -- argument lists of arbitrary methods */
import type { Duration } from '../options/duration.util';

/**
 * Options shared by the caching decorators. Functions receive the method's arguments (on
 * controller handlers, the handler's arguments after pipes). They are typed loosely on purpose:
 * a key function usually reads fewer arguments than the method takes; annotate its parameters.
 */
interface DecoratorBaseOptions {
  /** The cache domain (`screening`, `subject`, … or one the application declares). */
  cache: string;
  /** When it returns false the cache is bypassed for this call. */
  condition?: (...args: any[]) => boolean;
}

export interface CacheableOptions extends DecoratorBaseOptions {
  /**
   * The entry's key within the domain. Default: `Class.method:` plus a stable encoding of the
   * arguments (hashed past 200 characters); on a controller, the request's method, path and
   * sorted query string.
   */
  key?: (...args: any[]) => string;
  /** Seconds, or a `Duration` such as `'5m'`; the domain's default when omitted. */
  ttl?: Duration;
  /** When it returns true the result is returned but not stored. */
  unless?: (result: any, ...args: any[]) => boolean;
  /** Tags of the entry, from the arguments followed by the result. */
  tags?: (...argsThenResult: any[]) => readonly string[];
  /**
   * Refresh-ahead for this method, overriding the domain's `refreshAhead` (a fraction above 0 and
   * below 1; `false` turns it off): a hit late in its TTL is served and refreshed in the background.
   */
  refreshAhead?: number | false;
  /**
   * Seconds a miss waits for another instance that is running this method for the same key,
   * instead of running it too (fleet-wide single flight); `0` never waits. Default: `leaseTtl`.
   */
  wait?: Duration;
  /**
   * Controllers only: the user or tenant a request's response belongs to, made part of the key.
   * Requests carrying credentials (an `Authorization` header or a cookie) are never cached
   * without a scope, from here or from the domain's `scope` option.
   */
  scope?: (request: any) => string | undefined;
}

export interface CacheEvictOptions extends DecoratorBaseOptions {
  /** The key to evict. */
  key?: (...args: any[]) => string;
  /** Several keys to evict. */
  keys?: (...args: any[]) => readonly string[];
  /** Tags whose entries to evict; after invocation they also receive the result. */
  tags?: (...argsThenResult: any[]) => readonly string[];
  /** Evict every entry of the domain (SCAN + UNLINK in batches, never KEYS). */
  allEntries?: boolean;
  /** Evict before the method runs (and whatever its outcome) instead of after it succeeds. */
  beforeInvocation?: boolean;
}

export interface CachePutOptions extends DecoratorBaseOptions {
  /** The key to store the result under. */
  key: (...args: any[]) => string;
  /** Seconds, or a `Duration` such as `'5m'`; the domain's default when omitted. */
  ttl?: Duration;
  /** When it returns true the result is not stored. */
  unless?: (result: any, ...args: any[]) => boolean;
  /** Tags of the entry, from the arguments followed by the result. */
  tags?: (...argsThenResult: any[]) => readonly string[];
}
