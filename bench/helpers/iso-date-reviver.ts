/**
 * Generic on purpose: a cache holding many types cannot list each one's date fields, so the
 * hand-written version tests every string against an ISO 8601 pattern.
 */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** The `JSON.parse` reviver a team writes to get its Dates back from JSON. */
export function reviveIsoDates(_key: string, value: unknown): unknown {
  return typeof value === 'string' && ISO_DATE_TIME.test(value) ? new Date(value) : value;
}
