import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Observable, tap } from 'rxjs';
import { type HttpCall, httpCallContext, type HttpRequestLike, type HttpResponseLike } from './http-call.context';
import { originalOf } from './method-dispatcher';

const INTERCEPTED = Symbol('elile.cache.intercepted');

/**
 * Gives `@Cacheable`, `@CacheEvict` and `@CachePut` their HTTP semantics on controller handlers:
 * only GET (and HEAD) responses are cached, only 2xx results without `Set-Cookie` and that are not
 * streams, requests with credentials only when a scope is declared, and the `X-Cache` header
 * (`HIT`, `MISS` or `BYPASS`) says what happened.
 *
 * Our decorators attach it to their handlers; using it per handler or globally as well is
 * harmless: it acts only on handlers carrying our metadata, once per request.
 */
@Injectable()
export class CacheInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const handler = originalOf(context.getHandler());
    if (context.getType() !== 'http' || !handler) return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest<HttpRequestLike & { [INTERCEPTED]?: true }>();
    if (request[INTERCEPTED]) return next.handle();
    request[INTERCEPTED] = true;
    const call: HttpCall = { handler, request, response: http.getResponse<HttpResponseLike>() };
    return new Observable((subscriber) =>
      httpCallContext.run(call, () =>
        next
          .handle()
          .pipe(tap(() => this.reportOutcome(call)))
          .subscribe(subscriber),
      ),
    );
  }

  /** Sets the `X-Cache` header; override to report the outcome differently. */
  protected reportOutcome({ response, outcome }: HttpCall): void {
    // A handler that wrote the response itself (`@Res()`) has sent its headers already.
    if (!outcome || response.headersSent) return;
    if (typeof response.setHeader === 'function') response.setHeader('X-Cache', outcome);
    else response.header?.('X-Cache', outcome);
  }
}
