import {
  type CallHandler,
  ConflictException,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { catchError, type Observable, throwError } from 'rxjs';
import { LockNotAcquiredError } from '../cache.errors';

/**
 * Translates a lock held elsewhere into HTTP 409 Conflict for `@WithLock` handlers (library
 * errors know nothing about HTTP). `@WithLock` attaches it; override `conflict` to shape the body.
 */
@Injectable()
export class LockInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    return next
      .handle()
      .pipe(
        catchError((error: unknown) =>
          throwError(() => (error instanceof LockNotAcquiredError ? this.conflict(error) : error)),
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
}
