import { AsyncLocalStorage } from 'node:async_hooks';

/** Request and response as Express and Fastify both expose them. */
export interface HttpRequestLike {
  method: string;
  url: string;
  originalUrl?: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface HttpResponseLike {
  statusCode: number;
  headersSent?: boolean;
  writableEnded?: boolean;
  getHeader(name: string): unknown;
  setHeader?(name: string, value: string): unknown;
  header?(name: string, value: string): unknown;
}

export type CacheOutcome = 'HIT' | 'MISS' | 'BYPASS';

/** What the interceptor tells the advice about the HTTP call it is running in. */
export interface HttpCall {
  /** The handler's undecorated method: only its advice applies HTTP rules, not methods it calls. */
  readonly handler: unknown;
  readonly request: HttpRequestLike;
  readonly response: HttpResponseLike;
  outcome?: CacheOutcome;
}

/**
 * Carries the current HTTP call from `CacheInterceptor` to the method advice, which runs inside
 * the handler after Nest's pipes have resolved its arguments. Per call, so no state is shared.
 */
export const httpCallContext = new AsyncLocalStorage<HttpCall>();
