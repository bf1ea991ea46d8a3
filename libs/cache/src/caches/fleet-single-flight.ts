import type { EntryCodec } from '../codec/entry-codec';
import { LEASED } from '../codec/entry-codec';
import type { KeyWatches } from '../near/key-watches';
import type { CacheStore } from '../store/cache-store.interface';
import type { CacheCounters } from './cache-stats';

/** How a miss may go on: fill the key under its lease, serve a value, or load without storing. */
export type Claim<T> =
  /**
   * The key's lease is ours. `replaced` is the stale entry (past its TTL, within its grace) the
   * lease took the place of, and `stale` its value: the fallback of fail-safe, to give back when
   * the load fails.
   */
  | { readonly lease: Buffer; readonly replaced?: Buffer; readonly stale?: { value: T } }
  | { readonly value: T }
  /**
   * The key's lease is another process's (which did not fill in time), or the cache failed;
   * `stale` is the stale value found on the way, if any.
   */
  | { readonly unstored: true; readonly stale?: { value: T } };

/** Orphaned leases remembered per process (see FleetSingleFlight.orphans). */
const MAX_ORPHANS = 10_000;

/** Decodes what a key holds: a value, a lease (`LEASED`), or `undefined` for bytes that do not decode. */
export type HeldDecoder<T> = (fullKey: string, held: Buffer) => T | typeof LEASED | undefined;

/**
 * One loader run per fleet on a cold key. A miss takes the key's lease; when another process
 * holds it, the miss waits for that process's fill instead of running the same loader: it is woken
 * by the invalidation channel when the key changes (filled, or its lease released, expired or
 * deleted), and takes the key's state again. The wait ends at `waitMs`, after which the miss
 * loads for itself (without storing: the lease is not its own). A holder that dies is noticed when
 * its lease expires; one that fails releases its lease. Never an error, never a hang.
 *
 * Waiting needs the channel: while it is down a change could go unheard, and misses load at once.
 */
export class FleetSingleFlight<T> {
  /**
   * Leases this process took but could not fill or give back (Redis failed at that moment), by
   * key: no one will ever fill them, so a miss meeting one takes it over instead of waiting for
   * it to expire. Bounded: a lease outlives none of its entries by more than its TTL.
   */
  private readonly orphans = new Map<string, { lease: Buffer; until: number }>();

  constructor(
    private readonly store: CacheStore,
    private readonly entries: EntryCodec,
    private readonly watches: KeyWatches | undefined,
    private readonly leaseTtlMs: number,
    private readonly counters: CacheCounters,
    private readonly decodeHeld: HeldDecoder<T>,
    private readonly onStoreError: (error: unknown) => void,
    /** Whether a held value is past its TTL (fail-safe's grace): it is then replaced, not served. */
    private readonly isStale: (held: Buffer) => boolean,
  ) {}

  async claim(fullKey: string, waitMs: number): Promise<Claim<T>> {
    let waitUntil = performance.now() + waitMs;
    /** The lease waited for, once waited. */
    let waitedFor: Buffer | undefined;
    for (;;) {
      const lease = this.entries.newLease();
      // Taken before the command is sent: a fill landing between its answer and the wait below
      // must still wake it.
      const watch = waitMs > 0 ? this.watches?.watch(fullKey) : undefined;
      try {
        let held: Buffer | undefined;
        try {
          held = await this.store.setIfAbsent(fullKey, lease, this.leaseTtlMs);
        } catch (error) {
          this.onStoreError(error);
          return { unstored: true };
        }
        if (held === undefined) return { lease };
        if (this.isOrphan(fullKey, held)) {
          let adopted: boolean;
          try {
            adopted = await this.store.replaceIf(fullKey, held, lease, this.leaseTtlMs);
          } catch (error) {
            this.onStoreError(error);
            return { unstored: true };
          }
          if (adopted) return { lease };
          continue;
        }
        const value = this.decodeHeld(fullKey, held);
        if (value !== LEASED && value !== undefined && this.isStale(held)) {
          // Only these exact bytes: a fresh value written meanwhile must not be replaced.
          let replaced: boolean;
          try {
            replaced = await this.store.replaceIf(fullKey, held, lease, this.leaseTtlMs);
          } catch (error) {
            this.onStoreError(error);
            return { unstored: true, stale: { value } };
          }
          if (replaced) return { lease, replaced: held, stale: { value } };
          continue;
        }
        if (value !== LEASED && value !== undefined) {
          if (waitedFor !== undefined) this.counters.fleetWaits++;
          return { value };
        }
        // Bytes that do not decode were dropped by the decoder; loading is all that is left.
        // So is a second holder after the first gave its lease back without a value (its
        // result was not to be stored, or its loader failed): waiting for each in turn would
        // run the fleet's loads one at a time, on every request for such a key.
        const remainingMs = waitUntil - performance.now();
        const anotherHolder = waitedFor !== undefined && !waitedFor.equals(held);
        if (value === undefined || !watch || remainingMs <= 0 || anotherHolder) {
          if (waitedFor !== undefined && !anotherHolder) this.counters.fleetWaitTimeouts++;
          return { unstored: true };
        }
        waitedFor = held;
        // Run out: one last look (below), in case the lease expired without Redis announcing it
        // yet (its active expiry samples keys), so that the key can still be filled.
        if (!(await watch.changedWithin(remainingMs))) waitUntil = performance.now();
      } finally {
        watch?.dispose();
      }
    }
  }

  /** Records a lease of this process left in the store: its fill or release failed. */
  orphaned(fullKey: string, lease: Buffer): void {
    const now = performance.now();
    if (this.orphans.size >= MAX_ORPHANS) {
      for (const [key, { until }] of this.orphans) if (until <= now) this.orphans.delete(key);
      // Still full: the oldest goes (it is the first to expire anyway).
      if (this.orphans.size >= MAX_ORPHANS) this.orphans.delete(this.orphans.keys().next().value!);
    }
    this.orphans.set(fullKey, { lease, until: now + this.leaseTtlMs });
  }

  private isOrphan(fullKey: string, held: Buffer): boolean {
    const orphan = this.orphans.get(fullKey);
    if (orphan === undefined) return false;
    if (orphan.until <= performance.now() || !orphan.lease.equals(held)) {
      if (orphan.until <= performance.now()) this.orphans.delete(fullKey);
      return false;
    }
    this.orphans.delete(fullKey);
    return true;
  }
}
