import type { LoggerService } from '@nestjs/common';
import { inspect } from 'node:util';

/** Keeps log lines so tests can assert what was (or was not) logged, and keeps jest output quiet. */
export class RecordingLogger implements LoggerService {
  readonly lines: string[] = [];

  log(message: unknown, ...rest: unknown[]): void {
    this.record('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.record('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.record('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.record('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.record('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.record('fatal', message, rest);
  }

  text(): string {
    return this.lines.join('\n');
  }

  private record(level: string, message: unknown, rest: unknown[]): void {
    const parts = [message, ...rest].map((part) => (typeof part === 'string' ? part : inspect(part, { depth: 8 })));
    this.lines.push(`${level}: ${parts.join(' ')}`);
  }
}
