import type { Redis } from 'ioredis';

/** Commands this process sent on `connection` while `work` ran (every round trip goes through sendCommand). */
export async function commandsSent(connection: Redis, work: () => Promise<unknown>): Promise<number> {
  const original = connection.sendCommand.bind(connection);
  let sent = 0;
  connection.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    sent++;
    return original(...args);
  }) as Redis['sendCommand'];
  try {
    await work();
  } finally {
    connection.sendCommand = original;
  }
  return sent;
}

/**
 * Script executions on the server so far (INFO commandstats). The commands a script calls are
 * counted separately, so this counts the scripts' round trips without the work inside them.
 */
export async function scriptExecutions(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  return [...stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce(
    (sum, match) => sum + Number(match[1]),
    0,
  );
}
