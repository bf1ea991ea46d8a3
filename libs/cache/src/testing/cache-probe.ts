import { AssertionError } from 'node:assert';
import { isDeepStrictEqual } from 'node:util';
import { Inject, Injectable } from '@nestjs/common';
import { CACHE_OPTIONS, CACHE_STORE } from '../cache.constants';
import { CacheRegistry } from '../caches/cache.registry';
import type { CacheErrorKind } from '../caches/cache-error-kind';
import type { CacheStats } from '../caches/cache-stats';
import { EntryCodec, LEASED } from '../codec/entry-codec';
import type { ResolvedCacheOptions } from '../options/resolve-options';
import type { RecordingStore } from './recording.store';

/** One entry of a domain, as {@link CacheProbe.entries} lists it. */
export interface ProbedEntry {
  /**
   * The key within the domain (without namespace and prefix). Keys the library builds itself —
   * default method keys, request keys, scoped entries — are shown in their reserved form
   * (`__elile:gen:…`, `__elile:scope:…`).
   */
  readonly key: string;
  readonly value: unknown;
  /** The TTL the entry was written with, in seconds (not the time it has left). */
  readonly ttl: number;
}

/** Which entry {@link CacheProbe.entry} and the entry expectations look at. */
export interface ProbeKeyOptions {
  /** The scope the entry was cached under (`CacheService` calls with `{ scope }`). */
  scope?: string;
}

type Counter = Exclude<keyof CacheStats, 'hitRatio' | 'errorsByKind'>;
const COUNTERS: readonly Counter[] = [
  'hits',
  'misses',
  'errors',
  'loads',
  'corruptEntries',
  'staleFillsDiscarded',
  'overloaded',
  'warmingErrors',
];

/**
 * Looks into the caches of a `CacheTestingModule` without touching them: listing and reading
 * entries counts no hit or miss. Counters are those since the probe was created or last
 * `clear()`ed, so each test can start from zero on a shared module.
 *
 * The `expect…` helpers throw Node's `AssertionError` (with `actual` and `expected`), which every
 * test runner reports as a failed assertion; they depend on no test framework.
 */
@Injectable()
export class CacheProbe {
  private readonly entryCodec: EntryCodec;
  private readonly baselines = new Map<string, CacheStats>();

  constructor(
    @Inject(CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
    @Inject(CACHE_STORE) private readonly store: RecordingStore,
    private readonly registry: CacheRegistry,
  ) {
    this.entryCodec = new EntryCodec(options.codec, options.compressionThreshold, options.maxDecompressedSize);
    this.resetCounters();
  }

  /** Names of the configured domains. */
  domains(): string[] {
    return this.registry.names();
  }

  /** The domain's live entries (in write order; read-throughs in progress are not entries). */
  async entries(domain: string): Promise<ProbedEntry[]> {
    this.registry.get(domain); // throws, naming the configured domains, for one that is not
    const prefix = this.prefixOf(domain);
    // Domain prefixes are disjoint (the module refuses overlapping ones): a key has one owner.
    const owned = this.store.written().filter(({ key }) => key.startsWith(prefix));
    const found = await Promise.all(owned.map(({ key, ttlMs }) => this.read(key, ttlMs)));
    return found.flatMap((entry, i) =>
      entry === undefined ? [] : [{ key: owned[i].key.slice(prefix.length), value: entry.value, ttl: entry.ttl }],
    );
  }

  /** The entry `key` names in the domain, or undefined when it holds nothing. */
  async entry(
    domain: string,
    key: string,
    options: ProbeKeyOptions = {},
  ): Promise<Omit<ProbedEntry, 'key'> | undefined> {
    const fullKey = this.registry.get(domain).fullKey(key, options.scope);
    return this.read(fullKey, this.store.ttlOf(fullKey));
  }

  /** The domain's counters since the probe was created or last cleared. */
  stats(domain: string): CacheStats {
    const now = this.registry.get(domain).stats();
    const base = this.baselines.get(domain) ?? now;
    const counts = Object.fromEntries(COUNTERS.map((name) => [name, now[name] - base[name]])) as Record<
      Counter,
      number
    >;
    const errorsByKind = Object.fromEntries(
      Object.entries(now.errorsByKind).map(([kind, count]) => [
        kind,
        count - base.errorsByKind[kind as CacheErrorKind],
      ]),
    ) as CacheStats['errorsByKind'];
    const reads = counts.hits + counts.misses;
    return { ...counts, errorsByKind, hitRatio: reads === 0 ? 0 : counts.hits / reads };
  }

  /** Deletes every entry of every domain and sets the counters back to zero. */
  async clear(): Promise<void> {
    await Promise.all(this.registry.names().map((name) => this.registry.get(name).clear()));
    this.resetCounters();
  }

  /** @throws AssertionError unless the domain counted exactly `count` hits since the last clear. */
  expectHits(domain: string, count: number): void {
    this.expectCounter(domain, 'hits', count);
  }

  /** @throws AssertionError unless the domain counted exactly `count` misses since the last clear. */
  expectMisses(domain: string, count: number): void {
    this.expectCounter(domain, 'misses', count);
  }

  /** @throws AssertionError unless each named counter of the domain has exactly that value. */
  expectStats(domain: string, expected: Partial<Record<Counter, number>>): void {
    const stats = this.stats(domain);
    const actual = Object.fromEntries(Object.keys(expected).map((name) => [name, stats[name as Counter]]));
    if (!isDeepStrictEqual(actual, expected)) {
      throw new AssertionError({
        message: `Cache domain "${domain}": expected counters ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
        actual,
        expected,
        operator: 'deepStrictEqual',
      });
    }
  }

  /**
   * @throws AssertionError unless `key` holds an entry — deeply equal to `value` when one is given
   *   (`undefined` is never a cached value, so passing it checks presence only).
   */
  async expectEntry(domain: string, key: string, value?: unknown, options: ProbeKeyOptions = {}): Promise<void> {
    const found = await this.entry(domain, key, options);
    if (found === undefined) {
      throw new AssertionError({
        message: `Cache domain "${domain}": expected an entry under ${describeKey(key, options)}, found none`,
        actual: undefined,
        expected: value,
        operator: 'expectEntry',
      });
    }
    if (value !== undefined && !isDeepStrictEqual(found.value, value)) {
      throw new AssertionError({
        message: `Cache domain "${domain}": the entry under ${describeKey(key, options)} holds another value`,
        actual: found.value,
        expected: value,
        operator: 'deepStrictEqual',
      });
    }
  }

  /** @throws AssertionError when `key` holds an entry. */
  async expectNoEntry(domain: string, key: string, options: ProbeKeyOptions = {}): Promise<void> {
    const found = await this.entry(domain, key, options);
    if (found !== undefined) {
      throw new AssertionError({
        message: `Cache domain "${domain}": expected no entry under ${describeKey(key, options)}`,
        actual: found.value,
        expected: undefined,
        operator: 'expectNoEntry',
      });
    }
  }

  private expectCounter(domain: string, counter: Counter, count: number): void {
    const actual = this.stats(domain)[counter];
    if (actual !== count) {
      throw new AssertionError({
        message: `Cache domain "${domain}": expected ${count} ${counter}, counted ${actual}`,
        actual,
        expected: count,
        operator: 'strictEqual',
      });
    }
  }

  private async read(fullKey: string, ttlMs: number | undefined): Promise<Omit<ProbedEntry, 'key'> | undefined> {
    const bytes = await this.store.get(fullKey);
    if (bytes == null || ttlMs === undefined) return undefined;
    const value = this.entryCodec.decode(bytes);
    return value === LEASED ? undefined : { value, ttl: ttlMs / 1000 };
  }

  private prefixOf(domain: string): string {
    return this.options.namespace + (this.options.domains.get(domain)?.prefix ?? '');
  }

  private resetCounters(): void {
    for (const name of this.registry.names()) this.baselines.set(name, this.registry.get(name).stats());
  }
}

function describeKey(key: string, { scope }: ProbeKeyOptions): string {
  return scope === undefined ? JSON.stringify(key) : `${JSON.stringify(key)} in scope ${JSON.stringify(scope)}`;
}
