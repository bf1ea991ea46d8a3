import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';

export interface RedisTarget {
  url: string;
  /** True for REDIS_URL: someone else's server, never stopped here. */
  external: boolean;
  pid?: number;
  /** CPUs the server may run on, as the kernel reports them (verifies the pinning). */
  cpus?: string;
  version?: string;
  stop(): Promise<void>;
}

/** The loopback port the kernel hands out next; a race with another process is retried below. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Sends one inline command and resolves with the raw reply, or rejects on any socket trouble. */
function command(port: number, line: string, timeoutMs = 500): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('timeout')));
    socket.once('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      // A bulk reply ($len) is complete once its payload and trailing CRLF arrived.
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      if (!bulk || reply.length >= bulk[0].length + Number(bulk[1]) + 2) {
        socket.end();
        resolve(reply);
      }
    });
    socket.once('error', reject);
  });
}

export function cpusAllowed(pid: number | 'self'): string | undefined {
  try {
    return /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts a private, throw-away `redis-server` (no RDB, no AOF, loopback only), pinned with
 * `taskset` to `core` when given, or uses REDIS_URL when that is set.
 */
export async function startRedis(options: { core?: number } = {}): Promise<RedisTarget> {
  if (process.env.REDIS_URL) return probeExternal(process.env.REDIS_URL);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(await freePort(), options.core);
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`Could not start redis-server: ${(lastError as Error)?.message ?? lastError}`);
}

/** Fails fast on a wrong REDIS_URL: a default ioredis client would retry for half a minute. */
async function probeExternal(url: string): Promise<RedisTarget> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let socketError: Error | undefined;
  probe.on('error', (error: Error) => (socketError = error));
  try {
    await probe.connect();
    const info = await probe.info('server');
    return { url, external: true, version: /redis_version:(\S+)/.exec(info)?.[1], stop: async () => {} };
  } catch (error) {
    throw new Error(`REDIS_URL is not reachable: ${(socketError ?? (error as Error)).message}`);
  } finally {
    probe.disconnect();
  }
}

async function launch(port: number, core: number | undefined): Promise<RedisTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'elile-bench-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', dir, '--daemonize', 'no', '--loglevel', 'warning');
  // taskset execs redis-server in place, so the child's pid is the server's pid.
  const child =
    core === undefined
      ? spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('taskset', ['-c', String(core), 'redis-server', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => {});

  // Last resort for exits that skip `stop()` (an uncaught error in a callback): a synchronous kill.
  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited(child);
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + 5000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${output.trim()}`);
      try {
        if ((await Promise.race([command(port, 'PING'), spawnError])).startsWith('+PONG')) break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT')
          throw new Error('redis-server (or taskset) is not on PATH');
        if (Date.now() > deadline)
          throw new Error(`redis-server did not answer PING on port ${port}: ${output.trim()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const info = await command(port, 'INFO server');
    return {
      url: `redis://127.0.0.1:${port}`,
      external: false,
      pid: child.pid,
      cpus: child.pid ? cpusAllowed(child.pid) : undefined,
      version: /redis_version:(\S+)/.exec(info)?.[1],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
