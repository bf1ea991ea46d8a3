import type { AcquireAttempt, LockBackend, ReplicaRequirement } from './lock-backend.interface';
import type { LockNames } from './lock-names.util';

interface HeldLock {
  readonly owner: string;
  readonly fencingToken: number;
  expiry?: NodeJS.Timeout;
  expiresAt: number;
}

/**
 * Locks in this process, for memory store mode (the demo, users' unit tests): the Redis
 * backend's semantics — owner-checked steps, expiry, fencing tokens, release announcements —
 * without sharing anything between processes.
 *
 * Tokens come from one counter seeded with the wall clock in microseconds, so they increase per
 * key (and overall) and, like Redis's after a restart, start above the tokens of an earlier run
 * of the application (for resources that persist them), as long as the clock did not step back.
 */
export class MemoryLockBackend implements LockBackend {
  private readonly held = new Map<string, HeldLock>();
  private readonly listeners = new Map<string, Set<() => void>>();
  private lastToken = Date.now() * 1000;

  async acquire(names: LockNames, owner: string, ttlMs: number): Promise<AcquireAttempt> {
    const current = this.held.get(names.lock);
    if (current?.owner === owner) {
      this.expireIn(names.lock, current, ttlMs);
      return { acquired: true, fencingToken: current.fencingToken };
    }
    if (current) return { acquired: false, holderTtlMs: Math.max(0, Math.ceil(current.expiresAt - performance.now())) };
    const entry: HeldLock = { owner, fencingToken: ++this.lastToken, expiresAt: 0 };
    this.held.set(names.lock, entry);
    this.expireIn(names.lock, entry, ttlMs);
    return { acquired: true, fencingToken: entry.fencingToken };
  }

  async acquireReplicated(
    names: LockNames,
    owner: string,
    ttlMs: number,
    replicas: ReplicaRequirement,
  ): Promise<{ attempt: AcquireAttempt; acknowledged?: number }> {
    // One process has no replicas to lose a lock to: the requirement holds trivially.
    const attempt = await this.acquire(names, owner, ttlMs);
    return { attempt, acknowledged: attempt.acquired ? replicas.count : undefined };
  }

  async extend(names: LockNames, owner: string, ttlMs: number): Promise<boolean> {
    const current = this.held.get(names.lock);
    if (current?.owner !== owner) return false;
    this.expireIn(names.lock, current, ttlMs);
    return true;
  }

  async release(names: LockNames, owner: string): Promise<boolean> {
    const current = this.held.get(names.lock);
    if (current?.owner !== owner) return false;
    clearTimeout(current.expiry);
    this.held.delete(names.lock);
    // Asynchronously, as a message from Redis would arrive.
    for (const listener of [...(this.listeners.get(names.channel) ?? [])]) queueMicrotask(listener);
    return true;
  }

  async onRelease(names: LockNames, listener: () => void): Promise<() => void> {
    const listeners = this.listeners.get(names.channel) ?? new Set<() => void>();
    this.listeners.set(names.channel, listeners);
    const entry = () => listener();
    listeners.add(entry);
    return () => {
      listeners.delete(entry);
      if (listeners.size === 0 && this.listeners.get(names.channel) === listeners) this.listeners.delete(names.channel);
    };
  }

  async evictionPolicies(): Promise<string[]> {
    return [];
  }

  async close(): Promise<void> {
    for (const entry of this.held.values()) clearTimeout(entry.expiry);
    this.held.clear();
    this.listeners.clear();
  }

  /** Locks currently held and channels listened to (for tests and diagnostics). */
  get size(): { held: number; channels: number } {
    return { held: this.held.size, channels: this.listeners.size };
  }

  private expireIn(lock: string, entry: HeldLock, ttlMs: number): void {
    clearTimeout(entry.expiry);
    entry.expiresAt = performance.now() + ttlMs;
    // Expiry deletes without an announcement, as in Redis; waiters notice through their poll.
    entry.expiry = setTimeout(() => {
      if (this.held.get(lock) === entry) this.held.delete(lock);
    }, ttlMs);
    entry.expiry.unref();
  }
}
