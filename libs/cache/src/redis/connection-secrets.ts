import type { Cluster, Redis } from 'ioredis';
import { CacheConfigurationError } from '../cache.errors';
import { messages } from '../cache.messages';
import type { ResolvedRedisOptions } from '../options/resolve-options';
import type { RedisConnection } from './redis-connection.factory';

/** The ioredis options that hold a password: the server's and the sentinels'. */
const PASSWORD_KEYS = ['password', 'sentinelPassword'] as const;

/**
 * A Redis URL parsed as ioredis 5 parses it (WHATWG `URL`, user name and password
 * percent-decoded, query parameters read as options).
 * @throws CacheConfigurationError, without repeating the URL (it may hold a password), for a URL
 *   that ioredis would refuse, or would read with part of a user name or password as its host,
 *   port, database or query.
 */
export function parseRedisUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not rethrown: Node's error keeps the whole URL in its `input` property.
    throw new CacheConfigurationError(messages.redisUrlInvalid());
  }
  // A raw "/", "?" or "#" in a password ends the user info early; everything after it, the "@"
  // included, then reads as path, query or fragment, and the password's start as host and port.
  if ([url.pathname, url.hash, url.search].some((part) => part.includes('@'))) {
    throw new CacheConfigurationError(messages.redisUrlMisread());
  }
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    throw new CacheConfigurationError(messages.redisUrlBadEscape());
  }
  return url;
}

/**
 * Where the connection goes, for logs, read from the options ioredis ended up with: host, port,
 * database and, when a password goes with it, the user name; a password shows as `***`.
 */
export function describeTarget(options: ResolvedRedisOptions, connection: RedisConnection): string {
  if (connection.isCluster) return `cluster (${options.cluster?.nodes.length ?? 0} seed nodes)`;
  const used = (connection as Redis).options;
  if (used.sentinels) return `sentinel master "${used.name}"`;
  // Without a password, a "user name" may well be a password written where the user name goes.
  const credentials = used.password ? `${encodeURIComponent(used.username ?? '')}:***@` : '';
  const host = used.host?.includes(':') ? `[${used.host}]` : used.host;
  const place = used.path ?? `${host}:${used.port}`;
  return `${used.tls ? 'rediss' : 'redis'}://${credentials}${place}/${used.db ?? 0}`;
}

/**
 * Every password the connection was given — in the URL's user info or query, the options, the
 * sentinel settings, the cluster nodes, the ioredis passthrough — and every password it ended up
 * with, each in every spelling it could be printed in (as given, decoded, percent-encoded,
 * form-encoded), longest first so that a spelling is masked whole before a shorter one inside it.
 */
export function connectionSecrets(options: ResolvedRedisOptions, connection: RedisConnection): string[] {
  const nodes = options.cluster?.nodes ?? [];
  const passwords = [
    ...passwordsInUrl(options.url),
    ...passwordsIn(options),
    ...passwordsIn(options.ioredis),
    ...passwordsIn(options.sentinel),
    ...nodes.flatMap((node) => (typeof node === 'string' ? passwordsInUrl(node) : passwordsIn(node))),
    ...passwordsIn(connection.isCluster ? (connection as Cluster).options.redisOptions : connection.options),
  ];
  const secrets = new Set(passwords.flatMap(spellings).filter((secret) => secret.length > 0));
  return [...secrets].sort((a, b) => b.length - a.length);
}

function passwordsIn(record: unknown): string[] {
  if (typeof record !== 'object' || record === null) return [];
  return PASSWORD_KEYS.map((key) => (record as Record<string, unknown>)[key])
    .filter((value) => typeof value === 'string' || typeof value === 'number')
    .map(String);
}

function passwordsInUrl(text: string): string[] {
  let url: URL;
  try {
    // ioredis reads a cluster node given as "host:port" as a redis:// URL.
    const lower = text.toLowerCase();
    url = new URL(lower.startsWith('redis://') || lower.startsWith('rediss://') ? text : `redis://${text}`);
  } catch {
    return [];
  }
  const found = [url.password, ...PASSWORD_KEYS.flatMap((key) => url.searchParams.getAll(key))];
  try {
    found.push(decodeURIComponent(url.password));
  } catch {
    // Kept as written: ioredis refuses to decode it too, so it is never sent.
  }
  return found;
}

function spellings(password: string): string[] {
  const inUserInfo = new URL('redis://host');
  inUserInfo.password = password;
  const inQuery = new URLSearchParams([['p', password]]).toString().slice('p='.length);
  return [password, encodeURIComponent(password), inUserInfo.password, inQuery];
}
