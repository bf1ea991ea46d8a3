/** The injection token of a domain's `CacheService`; `@InjectCache(name)` uses it. */
export function getCacheToken(domain: string): string {
  return `ElileCache:${domain}`;
}
