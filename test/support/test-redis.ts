import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';

const SCAN_COUNT = 500;

/** The Redis that jest's globalSetup provided for this run. */
export function testRedisUrl(): string {
  const url = process.env.ELILE_TEST_REDIS_URL;
  if (!url) {
    throw new Error(
      'ELILE_TEST_REDIS_URL is not set: it comes from test/support/global-setup.ts, which only the ' +
        "'integration' and 'e2e' jest projects run. Run e.g. `npx jest --selectProjects integration`.",
    );
  }
  return url;
}

/** A key prefix no other test (or concurrent run) shares, e.g. `t:users:1a2b3c4d:`. */
export function uniqueNamespace(label: string): string {
  return `t:${label}:${randomBytes(4).toString('hex')}:`;
}

/** SCAN MATCH treats these as glob syntax; a namespace must only match itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * Removes every key under `namespace`. SCAN (not KEYS, which the test servers
 * refuse) keeps a big namespace from blocking the server; UNLINK frees values
 * off the main thread.
 */
export async function deleteNamespace(url: string, namespace: string): Promise<number> {
  if (!namespace) throw new Error('deleteNamespace: refusing an empty namespace (it would match every key)');
  const client = new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: true, disconnectTimeout: 200 });
  // Without a listener an unreachable server would also print "Unhandled error event".
  client.on('error', () => {});
  try {
    await client.connect();
    const pattern = `${escapeGlob(namespace)}*`;
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    // QUIT needs a live connection; disconnect() on an already closed one would
    // leave a timer running that jest reports as an open handle.
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
    else if (client.status !== 'end') client.disconnect();
  }
}
