import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { CACHE_OPTIONS, CACHE_STORE, INTERNAL_KEY_PREFIX } from '../cache.constants';
import { CacheArgumentError, CacheWarmingError, LockNotAcquiredError } from '../cache.errors';
import { warmingMessages } from '../cache.messages';
import { CacheRegistry } from '../caches/cache.registry';
import type { CacheService, FillAbsentResult } from '../caches/cache.service';
import type { Lock } from '../lock/lock';
import { LockService } from '../lock/lock.service';
import { DEFAULT_WARM_BATCH_SIZE } from '../options/cache-defaults';
import { describe, durationMsOr } from '../options/duration.util';
import type { ResolvedCacheOptions } from '../options/resolve-options';
import type { CacheStore } from '../store/cache-store.interface';
import { errorMessage } from '../support/error-message';
import { RateLimitedLogger } from '../support/rate-limited-logger';
import { type FoundWarmer, WarmerExplorer } from './warmer.explorer';
import type { Warmup } from './warmup.interface';

/**
 * How a domain's warm-up ended on this instance: `warmed` (this instance ran it), `recent` (the
 * fleet warmed the domain recently; bootstrap only), `locked` (another instance was warming it,
 * fleet `'skip'`), `stopped` (shutdown, or the warm-up lock was lost part-way), `failed` (the
 * warm-up lock could not be taken: Redis unavailable).
 */
export type WarmingOutcome = 'warmed' | 'recent' | 'locked' | 'stopped' | 'failed';

/** What one domain's warm-up did on this instance. */
export interface WarmingReport {
  readonly domain: string;
  readonly outcome: WarmingOutcome;
  /** Entries the warmers named. */
  readonly total: number;
  /** Stored by this warm-up. */
  readonly filled: number;
  /** Left alone: already cached, or being read through. */
  readonly present: number;
  /** Not stored because the key was set or invalidated while loading (the newer state kept). */
  readonly refused: number;
  /** Not stored because the loader returned `undefined` for them. */
  readonly skipped: number;
  /** Entries that could not be preloaded, plus warmers that failed before naming any. */
  readonly errors: number;
  readonly seconds: number;
}

type Counts = { -readonly [K in 'total' | 'filled' | 'present' | 'refused' | 'skipped' | 'errors']: number };

/** At most one progress line per domain this often; the done line always follows. */
const PROGRESS_INTERVAL_MS = 5_000;
/** A waiting instance (fleet `'wait'`) renews its wait this often, so that shutdown can end it. */
const WAIT_SLICE_SECONDS = 60;

/**
 * Runs the warmers (`@CacheWarmer` methods and `CacheWarmer` classes): at application bootstrap
 * — in the background unless `warming.await` — and on demand with `warm()`.
 *
 * Each domain is warmed once per fleet: under the lock `__elile:warm:<domain>` (`LockService`),
 * which other instances skip (or wait for, `warming.fleet: 'wait'`). After a warm-up without
 * errors a marker records it for the shortest TTL it wrote (less the jitter), so an instance
 * booting within that window does not warm again; `warm()` ignores the marker.
 *
 * Entries go through `CacheService.fillAbsent`: each absent key's read-through lease is taken
 * before loading, so warming never overwrites a newer value, and cached keys are left alone.
 * TTLs are jittered (`warming.jitter`). Errors are counted (`stats().warmingErrors`, the
 * reports) and logged, and fail the boot only with `warming.failOnError`.
 */
@Injectable()
export class CacheWarming implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('ElileCache:Warming');
  private readonly errorLog = new RateLimitedLogger(this.logger);
  private readonly stopping = new AbortController();
  private readonly running = new Set<Promise<unknown>>();
  private readonly bootstrapped: Promise<readonly WarmingReport[]>;
  private settleBootstrap!: (reports: readonly WarmingReport[]) => void;

  constructor(
    private readonly explorer: WarmerExplorer,
    private readonly registry: CacheRegistry,
    private readonly locks: LockService,
    @Inject(CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
    @Inject(CACHE_STORE) private readonly store: CacheStore,
  ) {
    this.bootstrapped = new Promise((resolve) => (this.settleBootstrap = resolve));
  }

  /**
   * Resolves with the reports of the warm-up started at bootstrap, once it ended (at once when
   * no domain has warmers). Never rejects.
   */
  get ready(): Promise<readonly WarmingReport[]> {
    return this.bootstrapped;
  }

  /**
   * Starts the warm-up: awaited with `warming.await`, otherwise in the background.
   * @throws CacheWarmingError with `warming.failOnError`, when it had errors.
   */
  async onApplicationBootstrap(): Promise<void> {
    const run = this.track(this.run(this.domains(), false));
    void run.then(this.settleBootstrap, () => this.settleBootstrap([]));
    if (!this.options.warming.await) return;
    const reports = await run;
    const failed = reports.filter((report) => report.errors > 0);
    if (this.options.warming.failOnError && failed.length > 0) {
      const failures = Object.fromEntries(failed.map(({ domain, errors }) => [domain, errors]));
      const summary = failed.map(({ domain, errors }) => `${domain}: ${errors}`).join(', ');
      throw new CacheWarmingError(warmingMessages.bootFailed(summary), failures);
    }
  }

  /**
   * Warms `domain` now (every domain that has warmers when omitted), even when the fleet warmed
   * it recently, under the same fleet lock as at bootstrap. Resolves with one report per domain;
   * errors are counted in the reports, not thrown.
   * @throws CacheArgumentError when `domain` has no warmer.
   */
  warm(domain?: string): Promise<readonly WarmingReport[]> {
    const domains = this.domains();
    if (domain !== undefined && !domains.includes(domain)) {
      throw new CacheArgumentError(warmingMessages.noWarmer(describe(domain), domains));
    }
    return this.track(this.run(domain === undefined ? domains : [domain], true));
  }

  /**
   * Stops starting new batches and waits for those in flight (at most one lease TTL: a load
   * finishing later can no longer store its results), while the connection is still open.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.leaseTtlMs)));
    await Promise.race([Promise.allSettled([...this.running]), limit]);
    clearTimeout(timer);
  }

  private domains(): string[] {
    return [...new Set(this.explorer.warmers.map(({ domain }) => domain))];
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    // Both ways, so that a rejection reaches only the caller, not an unhandled-rejection handler.
    const forget = () => void this.running.delete(work);
    void work.then(forget, forget);
    return work;
  }

  /** Domains one after another: instances booting together share the domains out between them. */
  private async run(domains: readonly string[], force: boolean): Promise<WarmingReport[]> {
    const reports: WarmingReport[] = [];
    for (const domain of domains) {
      if (this.stopping.signal.aborted) break;
      const warmers = this.explorer.warmers.filter((warmer) => warmer.domain === domain);
      reports.push(await this.warmDomain(domain, warmers, force));
    }
    return reports;
  }

  private async warmDomain(domain: string, warmers: readonly FoundWarmer[], force: boolean): Promise<WarmingReport> {
    const started = performance.now();
    const counts: Counts = { total: 0, filled: 0, present: 0, refused: 0, skipped: 0, errors: 0 };
    const report = (outcome: WarmingOutcome): WarmingReport => ({
      domain,
      outcome,
      ...counts,
      seconds: (performance.now() - started) / 1000,
    });
    if (!force && (await this.warmedRecently(domain))) {
      this.logger.log(warmingMessages.skippedRecent(domain));
      return report('recent');
    }
    let lock: Lock | null;
    try {
      lock = await this.fleetLock(domain);
    } catch (error) {
      if (this.stopping.signal.aborted) return report('stopped');
      counts.errors++;
      this.errorLog.warn(`lock:${domain}`, warmingMessages.lockUnavailable(domain, errorMessage(error)));
      return report('failed');
    }
    if (!lock) {
      this.logger.log(warmingMessages.skippedLocked(domain));
      return report('locked');
    }
    try {
      // Another instance may have finished between the check above and taking the lock.
      if (!force && (await this.warmedRecently(domain))) {
        this.logger.log(warmingMessages.skippedRecent(domain));
        return report('recent');
      }
      const cache = this.registry.get(domain);
      const shortestTtlMs = await this.runWarmers(domain, cache, warmers, lock, counts, started);
      if (this.stopping.signal.aborted || lock.signal.aborted) {
        if (lock.signal.aborted && !this.stopping.signal.aborted) this.logger.warn(warmingMessages.lockLost(domain));
        return report('stopped');
      }
      const done = report('warmed');
      const perSecond = counts.total / Math.max(done.seconds, 0.001);
      const detail = warmingMessages.detail(
        counts.filled,
        counts.present,
        counts.refused,
        counts.skipped,
        counts.errors,
      );
      this.logger.log(warmingMessages.done(domain, counts.total, perSecond, done.seconds, detail));
      if (counts.errors === 0 && shortestTtlMs !== undefined) await this.markWarmed(domain, shortestTtlMs);
      return done;
    } finally {
      await lock.release().catch(() => false);
    }
  }

  /**
   * Asks every warmer of the domain for its entries and preloads them in batches, `concurrency`
   * at a time. Returns the shortest TTL written, in ms (undefined when nothing was named).
   */
  private async runWarmers(
    domain: string,
    cache: CacheService<unknown>,
    warmers: readonly FoundWarmer[],
    lock: Lock,
    counts: Counts,
    started: number,
  ): Promise<number | undefined> {
    const jobs: Array<{ warmer: FoundWarmer; warmup: Warmup; keys: readonly string[] }> = [];
    let shortestTtlMs: number | undefined;
    for (const warmer of warmers) {
      let warmup: Warmup;
      try {
        warmup = checkedWarmup(warmer.name, await warmer.warmup());
      } catch (error) {
        counts.errors++;
        cache.reportWarmingFailure();
        this.errorLog.warn(
          `warmer:${warmer.name}`,
          warmingMessages.warmerFailed(domain, warmer.name, 0, errorMessage(error)),
        );
        continue;
      }
      counts.total += warmup.keys.length;
      // A bad ttl is refused per batch by fillAbsent, which counts its keys; here it only
      // bounds the "warmed recently" marker, so a bad one falls back to the domain's.
      const ttlMs = durationMsOr(warmup.ttl, cache.defaultTtl * 1000);
      shortestTtlMs = Math.min(shortestTtlMs ?? Infinity, ttlMs);
      const size = warmup.batchSize ?? DEFAULT_WARM_BATCH_SIZE;
      for (let start = 0; start < warmup.keys.length; start += size) {
        jobs.push({ warmer, warmup, keys: warmup.keys.slice(start, start + size) });
      }
    }

    let done = 0;
    let lastProgress = started;
    const { concurrency, jitter } = this.options.warming;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length && !this.stopping.signal.aborted && !lock.signal.aborted) {
        const { warmer, warmup, keys } = jobs[next++];
        const result = await this.fill(cache, warmup, keys, jitter, warmer);
        counts.filled += result.filled;
        counts.present += result.present;
        counts.refused += result.refused;
        counts.skipped += result.skipped;
        counts.errors += result.failed;
        if (result.loadError !== undefined) {
          this.errorLog.warn(
            `load:${warmer.name}`,
            warmingMessages.warmerFailed(domain, warmer.name, keys.length, errorMessage(result.loadError)),
          );
        }
        done += keys.length;
        const now = performance.now();
        if (now - lastProgress >= PROGRESS_INTERVAL_MS && done < counts.total) {
          lastProgress = now;
          this.logger.log(warmingMessages.progress(domain, done, counts.total, done / ((now - started) / 1000)));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
    return shortestTtlMs === undefined ? undefined : shortestTtlMs * (1 - jitter);
  }

  /** One batch; a bad ttl or tag function counts its keys as failed instead of ending the warm-up. */
  private async fill(
    cache: CacheService<unknown>,
    warmup: Warmup,
    keys: readonly string[],
    jitter: number,
    warmer: FoundWarmer,
  ): Promise<FillAbsentResult> {
    try {
      return await cache.fillAbsent(keys, (absent) => warmup.load(absent), {
        ttl: warmup.ttl,
        tags: warmup.tags,
        jitter,
      });
    } catch (error) {
      cache.reportWarmingFailure(keys.length);
      this.errorLog.warn(
        `warmer:${warmer.name}`,
        warmingMessages.warmerFailed(cache.name, warmer.name, keys.length, errorMessage(error)),
      );
      return { filled: 0, present: 0, refused: 0, skipped: 0, failed: keys.length };
    }
  }

  /**
   * The fleet's warm-up lock of a domain, extended while held; null when another instance holds
   * it and the fleet option is `'skip'`. With `'wait'`, waits until it is free.
   */
  private async fleetLock(domain: string): Promise<Lock | null> {
    const key = `${INTERNAL_KEY_PREFIX}warm:${domain}`;
    const held = await this.locks.tryAcquire(key, { autoExtend: true });
    if (held || this.options.warming.fleet === 'skip') return held;
    this.logger.log(warmingMessages.waiting(domain));
    for (;;) {
      try {
        return await this.locks.acquire(key, {
          autoExtend: true,
          wait: WAIT_SLICE_SECONDS,
          signal: this.stopping.signal,
        });
      } catch (error) {
        if (!(error instanceof LockNotAcquiredError)) throw error;
      }
    }
  }

  private markerKey(domain: string): string {
    return `${this.options.namespace}${INTERNAL_KEY_PREFIX}warmed:${domain}`;
  }

  /** Whether the fleet finished a warm-up of the domain within the window; unknown counts as no. */
  private async warmedRecently(domain: string): Promise<boolean> {
    try {
      return (await this.store.get(this.markerKey(domain))) != null;
    } catch {
      return false;
    }
  }

  private async markWarmed(domain: string, windowMs: number): Promise<void> {
    try {
      await this.store.set(
        this.markerKey(domain),
        Buffer.from(new Date().toISOString()),
        Math.max(1, Math.round(windowMs)),
      );
    } catch (error) {
      this.errorLog.warn(`marker:${domain}`, warmingMessages.markerFailed(domain, errorMessage(error)));
    }
  }
}

/** @throws CacheArgumentError naming the warmer when it did not return a usable `Warmup`. */
function checkedWarmup(name: string, warmup: unknown): Warmup {
  const candidate = warmup as Partial<Warmup> | null | undefined;
  if (
    !candidate ||
    !Array.isArray(candidate.keys) ||
    candidate.keys.some((key) => typeof key !== 'string') ||
    typeof candidate.load !== 'function' ||
    (candidate.batchSize !== undefined && !(Number.isInteger(candidate.batchSize) && candidate.batchSize > 0))
  ) {
    throw new CacheArgumentError(warmingMessages.badWarmup(name, describe(warmup)));
  }
  return candidate as Warmup;
}
