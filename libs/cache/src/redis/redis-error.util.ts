import { CacheCommandError, CacheError, CacheTimeoutError, CacheUnavailableError } from '../cache.errors';
import { messages, redact } from '../cache.messages';

/**
 * Translates an ioredis failure into the library's typed errors. The original error is not kept
 * as `cause`: ioredis errors carry the command's arguments (AUTH passwords among them), so the
 * cause is a fresh error holding only the redacted message.
 */
export function translateRedisError(
  error: unknown,
  command: string,
  timeoutMs: number,
  secrets: ReadonlyArray<string | undefined>,
): CacheError {
  if (error instanceof CacheError) return error;
  const original = error as Error & { name?: string };
  const reason = redact(String(original?.message ?? error), secrets);
  const cause = Object.assign(new Error(reason), { name: original?.name ?? 'Error' });
  if (reason === 'Command timed out') {
    return new CacheTimeoutError(messages.timedOut(command, timeoutMs), command, { cause });
  }
  if (original?.name === 'ReplyError') {
    return new CacheCommandError(messages.commandFailed(command, reason), command, { cause });
  }
  return new CacheUnavailableError(`${messages.notConnected(command)} (${reason})`, command, { cause });
}
