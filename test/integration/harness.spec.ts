import { settlesWithin } from '../support/settles-within';
import Redis, { RedisOptions } from 'ioredis';
import { RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { startTcpProxy, TcpProxy } from '../support/tcp-proxy';
import { deleteNamespace, escapeGlob, testRedisUrl, uniqueNamespace } from '../support/test-redis';

const clients: Redis[] = [];

function connect(target: string | number, extra: RedisOptions = {}): Redis {
  const options: RedisOptions = { maxRetriesPerRequest: 1, disconnectTimeout: 200, ...extra };
  const client = typeof target === 'number' ? new Redis(target, '127.0.0.1', options) : new Redis(target, options);
  // Fault tests provoke connection errors on purpose; the commands still reject.
  client.on('error', () => {});
  clients.push(client);
  return client;
}

async function closeClient(client: Redis): Promise<void> {
  // disconnect() on an already closed stream arms a timer that nothing clears
  // for `disconnectTimeout` ms, which jest then reports as an open handle.
  if (client.status === 'end') return;
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
  else client.disconnect();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map(closeClient));
});

describe('shared server from global setup', () => {
  it('answers PING', async () => {
    const redis = connect(testRedisUrl());
    await expect(redis.ping()).resolves.toBe('PONG');
  });

  it('deleteNamespace removes exactly its own keys, glob characters included', async () => {
    const redis = connect(testRedisUrl());
    const namespace = uniqueNamespace('harness[*?]\\');
    const sibling = uniqueNamespace('harness');
    // Without escaping, `[*?]` would match a single one of those characters.
    const lookalike = namespace.replace('[*?]', '*');
    const inside = Array.from({ length: 1200 }, (_, i) => `${namespace}k${i}`);
    await redis.mset(Object.fromEntries(inside.map((key) => [key, '1'])));
    await redis.set(`${sibling}k`, '1');
    await redis.set(`${lookalike}k`, '1');

    await expect(deleteNamespace(testRedisUrl(), namespace)).resolves.toBe(inside.length);

    await expect(redis.exists(...inside.slice(0, 50))).resolves.toBe(0);
    await expect(redis.get(`${sibling}k`)).resolves.toBe('1');
    await expect(redis.get(`${lookalike}k`)).resolves.toBe('1');
    await deleteNamespace(testRedisUrl(), sibling);
    await deleteNamespace(testRedisUrl(), lookalike);
  });

  it('uniqueNamespace gives distinct short prefixes', () => {
    const a = uniqueNamespace('x');
    expect(a).toMatch(/^t:x:[0-9a-f]{8}:$/);
    expect(uniqueNamespace('x')).not.toBe(a);
    expect(escapeGlob('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
  });
});

describe('harness-started local server', () => {
  let server: RedisServerHandle;

  beforeAll(async () => {
    server = await startLocalRedisServer({ debugCommand: true });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('is a loopback child process', () => {
    expect(server.kind).toBe('local');
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(server.pid).toEqual(expect.any(Number));
  });

  it('accepts DEBUG when asked to', async () => {
    const redis = connect(server.url);
    await expect(redis.call('DEBUG', 'SLEEP', '0')).resolves.toBe('OK');
  });

  // The shared server may come from REDIS_URL, so KEYS is only checked here.
  it('refuses KEYS, so code under test cannot come to depend on it', async () => {
    const redis = connect(server.url);
    await expect(redis.keys('*')).rejects.toThrow(/unknown command/i);
  });

  it('pause() makes commands hang and resume() lets them complete', async () => {
    const redis = connect(server.url);
    const key = `${uniqueNamespace('pause')}k`;
    await redis.set(key, 'v');

    await server.pause();
    const pending = redis.get(key);
    try {
      expect(await settlesWithin(pending, 300)).toBe('pending');
    } finally {
      await server.resume();
    }
    await expect(pending).resolves.toBe('v');
  });

  it('restart() loses the data and keeps the port', async () => {
    const before = connect(server.url);
    const key = `${uniqueNamespace('restart')}k`;
    await before.set(key, 'v');
    const { port, pid } = server;

    await server.restart();

    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(pid);
    const after = connect(server.url);
    await expect(after.get(key)).resolves.toBeNull();
    await expect(after.call('DEBUG', 'SLEEP', '0')).resolves.toBe('OK');
  });

  it('restart() works on a paused server', async () => {
    await server.pause();
    await server.restart();
    await expect(connect(server.url).ping()).resolves.toBe('PONG');
  });
});

describe('tcp proxy', () => {
  let server: RedisServerHandle;
  let proxy: TcpProxy;

  beforeAll(async () => {
    server = await startLocalRedisServer();
    proxy = await startTcpProxy(server.port);
  });

  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  it('forwards both ways', async () => {
    const viaProxy = connect(proxy.port);
    const key = `${uniqueNamespace('proxy')}k`;
    await viaProxy.set(key, 'v');
    await expect(viaProxy.get(key)).resolves.toBe('v');
    await expect(connect(server.port).get(key)).resolves.toBe('v');
  });

  it('stall() holds a SET until release()', async () => {
    const viaProxy = connect(proxy.port);
    const direct = connect(server.port);
    const key = `${uniqueNamespace('stall')}k`;
    await viaProxy.ping();

    proxy.stall();
    let setDone: Promise<unknown> | undefined;
    try {
      setDone = viaProxy.set(key, 'v');
      expect(await settlesWithin(setDone, 200)).toBe('pending');
      await expect(direct.exists(key)).resolves.toBe(0);
    } finally {
      proxy.release();
    }
    await expect(setDone).resolves.toBe('OK');
    await expect(direct.get(key)).resolves.toBe('v');
  });

  it('keeps the order of pipelined commands across a stall', async () => {
    const viaProxy = connect(proxy.port);
    const key = `${uniqueNamespace('order')}k`;
    await viaProxy.ping();

    proxy.stall();
    const replies = Array.from({ length: 200 }, (_, i) => viaProxy.rpush(key, String(i)));
    await sleep(50);
    proxy.release();

    await expect(Promise.all(replies)).resolves.toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const stored = await connect(server.port).lrange(key, 0, -1);
    expect(stored).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
  });

  it('cutAll() closes client connections and the proxy keeps accepting', async () => {
    const viaProxy = connect(proxy.port, { retryStrategy: () => null });
    await viaProxy.ping();
    expect(proxy.connections).toBeGreaterThan(0);
    const closed = new Promise<void>((resolve) => viaProxy.once('close', () => resolve()));

    proxy.cutAll();

    await closed;
    expect(proxy.connections).toBe(0);
    await expect(connect(proxy.port).ping()).resolves.toBe('PONG');
  });
});
