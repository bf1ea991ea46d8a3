import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Packages that talk to Redis. Some, once loaded, deoptimise msgpackr for the whole process. */
const CLIENT_PACKAGES = ['ioredis', 'ioredis6', '@redis/client', 'redis', 'node-redis'];

export interface LoadedClient {
  name: string;
  version?: string;
  /** Package directory, relative to the working directory. */
  path: string;
}

/**
 * Every copy of a Redis client package this process has loaded, read from the module cache. The
 * figures are only the product's against raw ioredis if this is one copy of ioredis: the one the
 * product and the baseline share.
 */
export function loadedRedisClients(): LoadedClient[] {
  const roots = new Map<string, string>();
  for (const file of Object.keys(require.cache)) {
    for (const name of CLIENT_PACKAGES) {
      const marker = `/node_modules/${name}/`;
      const at = file.lastIndexOf(marker);
      if (at >= 0) roots.set(file.slice(0, at + marker.length - 1), name);
    }
  }
  return [...roots].map(([root, name]) => ({ name, version: versionOf(root), path: relative(process.cwd(), root) }));
}

function versionOf(root: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}
