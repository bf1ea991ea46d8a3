import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  circuitBreaker,
  ConsecutiveBreaker,
  handleWhen,
} from 'cockatiel';
import type { ResolvedBreakerOptions } from '../options/resolve-options';

/** Where the breaker of a connection stands; `disabled` when `redis.breaker.enabled` is false. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'disabled';

/** The breaker of a connection, as `RedisClient.breakerStatus()` reports it. */
export interface BreakerStatus {
  readonly state: BreakerState;
  /** Times it opened from closed since the process started (failed probes not counted). */
  readonly opened: number;
  /** Commands refused without being sent because it was open or half-open. */
  readonly refused: number;
  /**
   * State changes since the process started, by the state entered: `open` also counts each failed
   * probe (half-open back to open), `half-open` each probe.
   */
  readonly transitions: Readonly<Record<'open' | 'half-open' | 'closed', number>>;
}

/** What the connection is told about state changes: one call per change, never per command. */
export interface BreakerListener {
  opened(reason: unknown): void;
  halfOpen(): void;
  closed(openForMs: number, probes: number): void;
}

/** How soon a probe tries again when cockatiel's wall clock says the open period has not quite run. */
const EARLY_PROBE_RETRY_MS = 10;

/**
 * A consecutive-failure circuit breaker (cockatiel's) for one Redis connection.
 *
 * Consecutive rather than sampled: only failures count (a command not sent, or past its deadline),
 * so a run of them is a Redis that is gone or hung, at any traffic level; a sampled breaker needs
 * a minimum rate and would never open for an instance serving a few calls a second, each of which
 * would then wait out its deadline.
 *
 * Commands never become the half-open test: while the breaker is not closed the connection
 * refuses them at once (`allowsCommands`), and the probe is a PING this class sends when the open
 * period has run. cockatiel would otherwise let the first caller after it through as the test,
 * and make everyone arriving meanwhile wait for it: a caller would pay a deadline per period.
 */
export class ConnectionBreaker {
  private readonly policy: CircuitBreakerPolicy;
  private readonly failuresInARow: ConsecutiveBreaker;
  private probeTimer?: NodeJS.Timeout;
  private openedAt?: number;
  private probes = 0;
  private stopped = false;
  private openings = 0;
  private refusals = 0;
  private readonly transitions = { open: 0, 'half-open': 0, closed: 0 };
  private readonly halfOpenAfterMs: number;

  constructor(
    settings: ResolvedBreakerOptions,
    isFailure: (error: Error) => boolean,
    private readonly probe: () => Promise<unknown>,
    private readonly listener: BreakerListener,
  ) {
    this.halfOpenAfterMs = settings.halfOpenAfterMs;
    this.failuresInARow = new ConsecutiveBreaker(settings.threshold);
    this.policy = circuitBreaker(handleWhen(isFailure), {
      halfOpenAfter: settings.halfOpenAfterMs,
      breaker: this.failuresInARow,
    });
    this.policy.onBreak((reason) => this.onOpen(reason));
    this.policy.onHalfOpen(() => {
      this.transitions['half-open']++;
      if (this.probes === 1) this.listener.halfOpen();
    });
    this.policy.onReset(() => this.onClose());
  }

  /** On every command's path: whether it may be sent. Counts a refusal when not. */
  allowsCommands(): boolean {
    if (this.policy.state === CircuitState.Closed) return true;
    this.refusals++;
    return false;
  }

  /**
   * A command answered: resets the count of failures in a row, which is all cockatiel's `execute`
   * does for a success while closed. Called directly rather than through `execute`, whose two
   * async frames per command made a GET ~30 % slower (5,120 GETs at 256 in flight).
   */
  succeeded(): void {
    this.failuresInARow.success();
  }

  /**
   * A command failed (past its deadline, or not sent): counted by cockatiel, which opens the
   * breaker at the threshold. Rejects with `error`.
   */
  failed(error: Error): Promise<never> {
    return this.policy.execute(() => Promise.reject(error));
  }

  get status(): BreakerStatus {
    return { state: this.state, opened: this.openings, refused: this.refusals, transitions: { ...this.transitions } };
  }

  private get state(): BreakerState {
    switch (this.policy.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      default:
        return 'open';
    }
  }

  /** Stops probing (application shutdown). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.probeTimer);
  }

  private onOpen(reason: unknown): void {
    this.transitions.open++;
    if (this.openedAt === undefined) {
      this.openedAt = performance.now();
      this.probes = 0;
      this.openings++;
      this.listener.opened((reason as { error?: unknown }).error);
    }
    this.scheduleProbe(this.halfOpenAfterMs);
  }

  private onClose(): void {
    this.transitions.closed++;
    const openForMs = this.openedAt === undefined ? 0 : performance.now() - this.openedAt;
    this.openedAt = undefined;
    this.listener.closed(openForMs, this.probes);
  }

  private scheduleProbe(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => this.sendProbe(), delayMs);
    // An open breaker must not keep a process alive that has nothing else to do.
    this.probeTimer.unref();
  }

  private sendProbe(): void {
    this.probeTimer = undefined;
    if (this.stopped) return;
    this.probes++;
    this.policy.execute(this.probe).catch((error: unknown) => {
      // cockatiel measures the open period on Date.now(), timers on the monotonic clock.
      if (error instanceof BrokenCircuitError) {
        this.probes--;
        this.scheduleProbe(EARLY_PROBE_RETRY_MS);
      }
      // Any other failure re-opened the breaker, whose onBreak scheduled the next probe.
    });
  }
}
