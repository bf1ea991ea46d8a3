import type { HttpRequestLike } from './http-call.context';

/** How the key of a cached request is built; the module's `http` options. */
export interface RequestKeyOptions {
  /** Key on the first `X-Forwarded-Host` value instead of `Host` (only behind a proxy that sets it). */
  readonly trustForwardedHost: boolean;
}

/**
 * A host as the `Host` header carries it: a name or address and an optional port. Anything else
 * (a `/`, `@`, spaces, …) is refused, so the host cannot run into the path part of the key.
 */
const HOST = /^[A-Za-z0-9._~!$&'()*+,;=%[\]:-]*$/;

/** Above this, parsers drop parameters (qs: 1,000), so which ones survive depends on the order. */
const MAX_QUERY_PARAMETERS = 1000;

/**
 * The key of a request to a handler without a `key` option: `GET //host:port/path?query`, or
 * undefined when the request target is not one this function can key exactly (the request then
 * bypasses the cache).
 *
 * The key names exactly the resource the router dispatches to: the path is kept byte for byte
 * (no dot-segment or percent-decoding, which the router does not do either: `/orgs/%2e` is not
 * `/orgs/`), and the host keeps its port, since another port may be another site. The only
 * normalisation is the order of query parameters with different names, which no query parser
 * distinguishes; parameters of the same name keep their order.
 */
export function requestKey(request: HttpRequestLike, options: RequestKeyOptions): string | undefined {
  const target = request.originalUrl ?? request.url;
  // Origin-form only: an absolute-form target's host is not the one the key would name.
  if (typeof target !== 'string' || !target.startsWith('/')) return undefined;
  // Express's URL parser cuts the query at a "#" (`?b=1#&a=2` is `b=1` to the handler), which the
  // split below would not: such a target could share a key with one the handler reads otherwise.
  if (target.includes('#')) return undefined;
  const host = hostOf(request, options);
  if (host === undefined) return undefined;
  const queryStart = target.indexOf('?');
  if (queryStart < 0) return `GET //${host}${target}`;
  const query = sortedQuery(target.slice(queryStart + 1));
  if (query === undefined) return undefined;
  return `GET //${host}${target.slice(0, queryStart)}${query === '' ? '' : `?${query}`}`;
}

function hostOf(request: HttpRequestLike, { trustForwardedHost }: RequestKeyOptions): string | undefined {
  const forwarded = trustForwardedHost ? firstValue(request.headers['x-forwarded-host']) : undefined;
  const host = forwarded ?? firstValue(request.headers.host) ?? '';
  return HOST.test(host) ? host : undefined;
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  return value.split(',')[0].trim();
}

function sortedQuery(query: string): string | undefined {
  const pieces = query.split('&');
  // Empty pieces count towards the parsers' limit too: `?&&…&x=1` with 1,000 `&` is `{}` to them.
  if (pieces.length > MAX_QUERY_PARAMETERS) return undefined;
  const parameters = pieces.filter((parameter) => parameter !== '');
  const named: Array<{ parameter: string; name: string }> = [];
  for (const parameter of parameters) {
    const name = baseName(parameter);
    // A name that does not percent-decode is one the parsers may fold into another (querystring
    // reads both `%61%FF` and `a%FF` as "a\uFFFD"): the query is then kept exactly as sent.
    if (name === undefined) return query;
    named.push({ parameter, name });
  }
  // Array.prototype.sort is stable: parameters of one name keep their relative order.
  named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return named.map(({ parameter }) => parameter).join('&');
}

/**
 * The name as parsers see it: decoded, up to a bracket (`a[b]=1` and `a=2` both belong to `a`);
 * undefined when it does not decode.
 */
function baseName(parameter: string): string | undefined {
  const equals = parameter.indexOf('=');
  const raw = (equals < 0 ? parameter : parameter.slice(0, equals)).replace(/\+/g, ' ');
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  const bracket = name.indexOf('[');
  return bracket < 0 ? name : name.slice(0, bracket);
}
