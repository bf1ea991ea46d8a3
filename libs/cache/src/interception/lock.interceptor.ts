import {
  type CallHandler,
  ConflictException,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  ServiceUnavailableException,
} from '@nestjs/common';
import { catchError, type Observable, throwError } from 'rxjs';
import { CacheTimeoutError, CacheUnavailableError, LockNotAcquiredError, LockUnavailableError } from '../cache.errors';

/**
 * When a client may retry a 503: the breaker probes Redis every `halfOpenAfter` (1 s by default),
 * and a reconnect is tried at least as often.
 */
const RETRY_AFTER_SECONDS = 1;

/**
 * Translates a lock held elsewhere into HTTP 409 Conflict, and a lock that could not be asked for
 * — Redis unreachable, hung, or its circuit breaker open — into 503 Service Unavailable with
 * `Retry-After`, for `@WithLock` handlers (library errors know nothing about HTTP; a 500 would
 * tell the client the request itself is at fault). `@WithLock` attaches it; override `conflict`
 * or `unavailable` to shape the body.
 */
@Injectable()
export class LockInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    return next
      .handle()
      .pipe(
        catchError((error: unknown) =>
          throwError(() =>
            error instanceof LockNotAcquiredError
              ? this.conflict(error)
              : isUnreachable(error)
                ? this.retryLater(context, error)
                : error,
          ),
        ),
      );
  }

  protected conflict(_error: LockNotAcquiredError): ConflictException {
    return new ConflictException({
      statusCode: 409,
      error: 'Conflict',
      message: 'The resource is being changed by another request; try again shortly.',
    });
  }

  private retryLater(
    context: ExecutionContext,
    error: LockUnavailableError | CacheUnavailableError | CacheTimeoutError,
  ) {
    const response = context
      .switchToHttp()
      .getResponse<{ setHeader?(name: string, value: string): void; header?(name: string, value: string): void }>();
    // Express's response, or Fastify's reply.
    if (typeof response.setHeader === 'function') response.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    else response.header?.('Retry-After', String(RETRY_AFTER_SECONDS));
    return this.unavailable(error);
  }

  protected unavailable(
    _error: LockUnavailableError | CacheUnavailableError | CacheTimeoutError,
  ): ServiceUnavailableException {
    return new ServiceUnavailableException({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'The resource cannot be locked right now; try again shortly.',
    });
  }
}

/** A lock that could not be asked for, as opposed to one somebody holds. */
function isUnreachable(error: unknown): error is LockUnavailableError | CacheUnavailableError | CacheTimeoutError {
  return (
    error instanceof LockUnavailableError ||
    error instanceof CacheUnavailableError ||
    error instanceof CacheTimeoutError
  );
}
