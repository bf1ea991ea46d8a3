import { EVERY_KEY, type InvalidationChannel, type Invalidated } from './invalidation-channel';

/**
 * Whether a key changed since the watch began. Taken before a command is sent, it tells a read
 * whether what it got may already be stale by the time it arrived (so it must not be kept in
 * process), and wakes a reader waiting for another process's fill.
 */
export class KeyWatch {
  private changedFlag = false;
  private wake?: (changed: boolean) => void;

  constructor(
    readonly key: string,
    private readonly owner: KeyWatches,
  ) {}

  get changed(): boolean {
    return this.changedFlag;
  }

  /** True as soon as the key changes (at once if it already did), false after `ms`. */
  changedWithin(ms: number): Promise<boolean> {
    if (this.changedFlag) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => settle(false), ms);
      timer.unref();
      const settle = (changed: boolean) => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(changed);
      };
      this.wake = settle;
    });
  }

  dispose(): void {
    this.owner.remove(this);
  }

  /** @internal */
  fire(): void {
    this.changedFlag = true;
    this.wake?.(true);
  }
}

/**
 * The watches of one process over one invalidation channel. A channel that goes down or comes
 * back fires every watch: a change may have been missed.
 */
export class KeyWatches {
  private readonly byKey = new Map<string, Set<KeyWatch>>();

  constructor(private readonly channel: InvalidationChannel) {
    channel.listen((invalidated) => this.fire(invalidated));
  }

  /**
   * A watch on `key`, or undefined while the channel is down (a change could go unheard), and for
   * a key that is not well-formed UTF-16: Redis stores a lone surrogate as U+FFFD and names the
   * key that way in its invalidations, so no invalidation would ever match it (nor a second
   * spelling of the same Redis key). Reads of such keys are then never kept, and misses never wait.
   */
  watch(key: string): KeyWatch | undefined {
    if (!this.channel.isUp || !key.isWellFormed()) return undefined;
    const watch = new KeyWatch(key, this);
    const watches = this.byKey.get(key);
    if (watches) watches.add(watch);
    else this.byKey.set(key, new Set([watch]));
    return watch;
  }

  /**
   * Fires the watches of keys this process is about to write: a read sent before the write may
   * answer with the old value after the write was acknowledged, and must not keep it.
   */
  touch(keys: readonly string[]): void {
    this.fire(keys);
  }

  /** How many watches are open (bounded by the reads and waits in flight). */
  get size(): number {
    let size = 0;
    for (const watches of this.byKey.values()) size += watches.size;
    return size;
  }

  /** @internal */
  remove(watch: KeyWatch): void {
    const watches = this.byKey.get(watch.key);
    if (!watches?.delete(watch) || watches.size > 0) return;
    this.byKey.delete(watch.key);
  }

  private fire(invalidated: Invalidated): void {
    if (invalidated === EVERY_KEY) {
      for (const watches of this.byKey.values()) for (const watch of watches) watch.fire();
      return;
    }
    for (const key of invalidated) {
      const watches = this.byKey.get(key);
      if (watches) for (const watch of watches) watch.fire();
    }
  }
}
