import {
  type CallHandler,
  ConflictException,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  ServiceUnavailableException,
} from '@nestjs/common';
import { catchError, type Observable, throwError } from 'rxjs';
import { LockNotAcquiredError, LockUnavailableError } from '../cache.errors';

/**
 * Translates a lock held elsewhere into HTTP 409 Conflict, and a lock that could not be asked for
 * (the Redis circuit breaker is open) into 503 Service Unavailable, for `@WithLock` handlers
 * (library errors know nothing about HTTP). `@WithLock` attaches it; override `conflict` or
 * `unavailable` to shape the body.
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
              : error instanceof LockUnavailableError
                ? this.unavailable(error)
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

  protected unavailable(_error: LockUnavailableError): ServiceUnavailableException {
    return new ServiceUnavailableException({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'The resource cannot be locked right now; try again shortly.',
    });
  }
}
