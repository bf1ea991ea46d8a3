import { Logger } from '@nestjs/common';

/**
 * A failing Redis fails every call; logging each one would flood the logs and slow the process
 * exactly when it is under stress. This logs the first message of each kind per interval and
 * counts the rest into the next one.
 */
export class RateLimitedLogger {
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(kind: string, message: string): void {
    this.emit(kind, message, (text) => this.logger.warn(text));
  }

  error(kind: string, message: string): void {
    this.emit(kind, message, (text) => this.logger.error(text));
  }

  private emit(kind: string, message: string, write: (text: string) => void): void {
    const now = performance.now();
    const last = this.lastLogged.get(kind);
    if (last && now - last.at < this.intervalMs) {
      last.suppressed++;
      return;
    }
    const suffix = last?.suppressed ? ` (${last.suppressed} similar messages suppressed)` : '';
    this.lastLogged.set(kind, { at: now, suppressed: 0 });
    write(message + suffix);
  }
}
