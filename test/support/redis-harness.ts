import { ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, readFileSync } from 'node:fs';
import { createConnection, createServer, Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { runInThisContext } from 'node:vm';

export type RedisKind = 'external' | 'local' | 'container';

export interface RedisServerOptions {
  /** Adds `--enable-debug-command local` (container: `yes`, its clients are not local). */
  debugCommand?: boolean;
  /**
   * Appended after the harness's own arguments, so they win. Leave --port and
   * --bind alone: readiness checks and restart() use the harness's values.
   */
  extraArgs?: string[];
}

export interface LocalRedisServerOptions extends RedisServerOptions {
  /** Bound on the wait for the first PONG, per start (also used by restart). */
  startTimeoutMs?: number;
}

export interface RedisServerHandle {
  readonly kind: RedisKind;
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Current process id of a local server (changes on restart); undefined otherwise. */
  readonly pid: number | undefined;
  /** Human-readable: what is being used and how it was found. */
  readonly description: string;
  /** Resolves once the server process (or container) is gone. Idempotent. */
  stop(): Promise<void>;
  /** SIGSTOP. Throws synchronously unless kind is 'local'. */
  pause(): Promise<void>;
  /** SIGCONT. Throws synchronously unless kind is 'local'. */
  resume(): Promise<void>;
  /** SIGKILL, then a fresh process on the same port. Throws synchronously unless kind is 'local'. */
  restart(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';
const DEFAULT_START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_BYTES = 8_192;

const INSTALL_HINT =
  'install a Redis server binary (Debian/Ubuntu: `apt-get install redis-server`), ' +
  'or set REDIS_URL=redis://127.0.0.1:6379 to use a running server, ' +
  'or start a Docker engine so testcontainers can run redis:7';

// Jest hands every test file its own copy of `process` whose EventEmitter state
// is private: an 'exit' listener added to it never fires. The host process is
// reachable by evaluating in Node's main context, and the registry lives on it
// (under a Symbol.for key) so that each test file re-evaluating this module
// shares one registry and one set of listeners instead of piling up new ones.

interface ChildRegistry {
  children: Set<ChildProcess>;
}

const REGISTRY_KEY = Symbol.for('elile.test.redisHarness.children');

function hostProcess(): NodeJS.Process {
  try {
    const candidate = runInThisContext('process') as NodeJS.Process | undefined;
    if (candidate && typeof candidate.on === 'function') return candidate;
  } catch {
    // Some sandboxes forbid vm; the local `process` is then the best available.
  }
  return process;
}

function killAllSync(children: Set<ChildProcess>): void {
  for (const child of children) {
    // SIGKILL because a SIGSTOPped server would sit on SIGTERM forever, and
    // nothing runs after an 'exit' listener to escalate.
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  children.clear();
}

function registry(): ChildRegistry {
  const host = hostProcess() as NodeJS.Process & { [REGISTRY_KEY]?: ChildRegistry };
  const existing = host[REGISTRY_KEY];
  if (existing) return existing;

  const created: ChildRegistry = { children: new Set() };
  host[REGISTRY_KEY] = created;
  host.on('exit', () => killAllSync(created.children));

  // A signal that kills the host skips 'exit'. Clean up, then let the signal
  // do what it would have done had nobody listened (unless someone else owns it).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllSync(created.children);
      if (host.listenerCount(signal) === 1) {
        host.removeListener(signal, onSignal);
        host.kill(host.pid, signal);
      }
    };
    host.on(signal, onSignal);
  }
  return created;
}

function track(child: ChildProcess): void {
  const { children } = registry();
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function findOnPath(binary: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/**
 * Binds port 0 and releases it. Another process may take the port before
 * redis-server binds it; callers retry on "Address already in use".
 */
export function findFreePort(host = LOOPBACK): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not read a free port'))));
    });
  });
}

/**
 * One raw RESP PING; true on +PONG, or -NOAUTH from a server started with a password (it is up;
 * it only wants AUTH first). A server still loading says -LOADING.
 */
function pingOnce(port: number, host: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    let received = '';
    const socket: Socket = createConnection({ port, host });
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes('\r\n')) finish(received.startsWith('+PONG') || received.startsWith('-NOAUTH'));
    });
  });
}

/** Reads the single-letter state from /proc (Linux); undefined where unavailable. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses; the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0) || undefined;
  } catch {
    return undefined;
  }
}

async function waitForProcessState(pid: number, stopped: boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = processState(pid);
    if (state === undefined) return;
    if ((state === 'T' || state === 't') === stopped) return;
    if (Date.now() > deadline) {
      throw new Error(`redis-server pid ${pid} did not become ${stopped ? 'stopped' : 'running'} (state ${state})`);
    }
    await sleep(5);
  }
}

class OutputTail {
  private text = '';

  append(chunk: Buffer): void {
    this.text += chunk.toString('utf8');
    if (this.text.length > OUTPUT_TAIL_BYTES) this.text = this.text.slice(-OUTPUT_TAIL_BYTES);
  }

  toString(): string {
    return this.text.trim();
  }
}

function unsupported(kind: RedisKind, operation: string): never {
  throw new Error(
    `${operation}() needs a local redis-server started by the harness, but this Redis is '${kind}'. ` +
      'Use startLocalRedisServer() in this test (or unset REDIS_URL so provideRedis() starts one).',
  );
}

function localServerArgs(port: number, options: RedisServerOptions): string[] {
  const args = [
    '--port',
    String(port),
    '--bind',
    LOOPBACK,
    '--save',
    '',
    '--appendonly',
    'no',
    // Snapshots a test still causes (a replica's full sync, DEBUG RELOAD) go to the temp dir,
    // one file per server, never into the working tree.
    '--dir',
    tmpdir(),
    '--dbfilename',
    `elile-test-redis-${port}.rdb`,
    '--rename-command',
    'KEYS',
    '',
    '--protected-mode',
    'no',
  ];
  if (options.debugCommand) args.push('--enable-debug-command', 'local');
  args.push(...(options.extraArgs ?? []));
  return args;
}

interface StartedProcess {
  child: ChildProcess;
  output: OutputTail;
}

class StartFailure extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
  }
}

async function spawnAndWait(binary: string, args: string[], port: number, timeoutMs: number): Promise<StartedProcess> {
  const output = new OutputTail();
  // Not detached: the server stays in our process group, so a Ctrl-C (or a CI
  // runner killing the group) reaches it too.
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  // Drained continuously: a full pipe would block redis-server's logging.
  child.stdout?.on('data', (chunk: Buffer) => output.append(chunk));
  child.stderr?.on('data', (chunk: Buffer) => output.append(chunk));

  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
    child.once('error', (error) => {
      exitInfo = `spawn error: ${error.message}`;
      resolve();
    });
  });

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitInfo !== undefined) break;
    if (await pingOnce(port, LOOPBACK, 500)) {
      // Left unreferenced so a forgotten server cannot keep jest (or any Node
      // process) alive; the exit hooks above still kill it.
      child.unref();
      (child.stdout as Socket | null)?.unref();
      (child.stderr as Socket | null)?.unref();
      return { child, output };
    }
    if (Date.now() > deadline) break;
    await Promise.race([sleep(25), exited]);
  }

  if (exitInfo === undefined) {
    child.kill('SIGKILL');
    await exited;
  }
  // Let the last buffered output arrive before quoting it.
  await sleep(20);
  const text = output.toString();
  const reason = exitInfo === undefined ? `did not answer PING within ${timeoutMs} ms` : `exited (${exitInfo})`;
  throw new StartFailure(
    `redis-server on ${LOOPBACK}:${port} ${reason}.\n` +
      `  command: ${binary} ${args.map((a) => (a === '' ? '""' : a)).join(' ')}\n` +
      `  server output:\n${text ? text.replace(/^/gm, '    ') : '    (none)'}`,
    /Address already in use|EADDRINUSE/i.test(text),
  );
}

async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Keeps the host alive until the exit is observed.
  child.ref();
  // A stopped process only acts on SIGTERM once it runs again.
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const late = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    child.kill('SIGKILL');
    await exited;
  }
}

class LocalRedisServer implements RedisServerHandle {
  readonly kind = 'local' as const;
  readonly host = LOOPBACK;
  private stopped = false;
  private paused = false;

  constructor(
    private readonly binary: string,
    private readonly args: string[],
    readonly port: number,
    private current: StartedProcess,
    private readonly startTimeoutMs: number,
    readonly description: string,
  ) {}

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.current.child.pid;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.paused = false;
    await terminate(this.current.child, STOP_GRACE_MS);
  }

  async pause(): Promise<void> {
    const pid = this.livePid('pause');
    process.kill(pid, 'SIGSTOP');
    this.paused = true;
    // kill() returns before the target is descheduled; a command sent in that
    // gap could still be served, which would make "it hangs" tests flaky.
    await waitForProcessState(pid, true);
  }

  async resume(): Promise<void> {
    const pid = this.livePid('resume');
    process.kill(pid, 'SIGCONT');
    this.paused = false;
    await waitForProcessState(pid, false);
  }

  async restart(): Promise<void> {
    this.livePid('restart');
    const old = this.current.child;
    const gone = new Promise<void>((resolve) => old.once('exit', () => resolve()));
    old.ref();
    // SIGKILL: no shutdown work at all, the same as SHUTDOWN NOSAVE with nothing
    // to save, and it works on a paused process too.
    old.kill('SIGKILL');
    await gone;
    this.paused = false;

    // The old listener is closed once the kernel reaped the process, but the port
    // is not reserved for us: retry briefly in case something grabbed it.
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      try {
        this.current = await spawnAndWait(this.binary, this.args, this.port, this.startTimeoutMs);
        return;
      } catch (error) {
        lastError = error;
        if (!(error instanceof StartFailure && error.addressInUse)) break;
        await sleep(100);
      }
    }
    this.stopped = true;
    throw lastError;
  }

  private livePid(operation: string): number {
    const { child } = this.current;
    if (this.stopped || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${operation}(): redis-server on port ${this.port} is not running (stopped or crashed)`);
    }
    return child.pid;
  }
}

let installing: Promise<boolean> | undefined;

function runInherited(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    // Child stdout goes to our stderr: stdout may be carrying `jest --json`.
    const child = spawn(command, args, {
      stdio: ['ignore', 2, 2],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(signal ? 128 : (code ?? 1)));
  });
}

function canInstallFromDebian(): boolean {
  return existsSync('/etc/debian_version') && process.getuid?.() === 0 && findOnPath('apt-get') !== undefined;
}

/** Installs Debian's redis-server once per process; concurrent callers share the attempt. */
function installDebianRedis(): Promise<boolean> {
  installing ??= (async () => {
    // Another worker's apt-get may hold the dpkg lock; wait for it instead of failing.
    const lockWait = ['-o', 'DPkg::Lock::Timeout=300'];
    if ((await runInherited('apt-get', [...lockWait, 'update'])) !== 0) return false;
    const code = await runInherited('apt-get', [...lockWait, 'install', '-y', 'redis-server', 'redis-tools']);
    if (code !== 0) return false;
    process.stderr.write("[redis-harness] installed Debian's redis-server with apt-get (redis-server redis-tools)\n");
    return true;
  })();
  return installing;
}

async function locateRedisServerBinary(): Promise<{ binary: string; how: string } | undefined> {
  const onPath = findOnPath('redis-server');
  if (onPath) return { binary: onPath, how: 'found on PATH' };
  if (!canInstallFromDebian()) return undefined;
  if (!(await installDebianRedis())) return undefined;
  const installed =
    findOnPath('redis-server') ?? (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : undefined);
  return installed ? { binary: installed, how: "installed Debian's redis-server with apt-get" } : undefined;
}

async function startWithBinary(
  binary: string,
  how: string,
  options: LocalRedisServerOptions,
): Promise<RedisServerHandle> {
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  let lastError: unknown;
  // The port from findFreePort() is only free at that instant.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = await findFreePort();
    const args = localServerArgs(port, options);
    try {
      const started = await spawnAndWait(binary, args, port, timeoutMs);
      const description = `local redis-server ${binary} (${how}), child pid ${started.child.pid}, port ${port}`;
      return new LocalRedisServer(binary, args, port, started, timeoutMs, description);
    } catch (error) {
      lastError = error;
      if (!(error instanceof StartFailure && error.addressInUse)) break;
    }
  }
  throw lastError;
}

/**
 * Always a redis-server child process of this process (installing Debian's
 * package first if needed and possible): for tests that pause, kill or
 * restart the server.
 */
export async function startLocalRedisServer(options: LocalRedisServerOptions = {}): Promise<RedisServerHandle> {
  const found = await locateRedisServerBinary();
  if (!found) {
    throw new Error(`This test needs a local redis-server binary and none was found on PATH: ${INSTALL_HINT}.`);
  }
  return startWithBinary(found.binary, found.how, options);
}

function externalServer(rawUrl: string): RedisServerHandle {
  let parsed: URL;
  try {
    parsed = new URL(rawUrl);
  } catch {
    // Not echoed: it may carry a password.
    throw new Error('REDIS_URL is not a valid URL');
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || LOOPBACK;
  const port = parsed.port ? Number(parsed.port) : 6379;
  // Host and port only: user info and query parameters may carry a password.
  const shown = `${parsed.protocol}//${parsed.host}`;
  return {
    kind: 'external',
    url: rawUrl,
    host,
    port,
    pid: undefined,
    description: `external Redis ${shown} (from REDIS_URL)`,
    stop: async () => {},
    pause: () => unsupported('external', 'pause'),
    resume: () => unsupported('external', 'resume'),
    restart: () => unsupported('external', 'restart'),
  };
}

type DockerEndpoint = { path: string } | { host: string; port: number; tls: boolean };

function dockerEndpoints(): DockerEndpoint[] {
  const fromEnv = process.env.DOCKER_HOST;
  if (fromEnv) {
    if (fromEnv.startsWith('unix://')) return [{ path: fromEnv.slice('unix://'.length) }];
    if (fromEnv.startsWith('tcp://')) {
      const url = new URL(fromEnv.replace(/^tcp:/, 'http:'));
      const tls = Boolean(process.env.DOCKER_TLS_VERIFY);
      return [{ host: url.hostname, port: Number(url.port) || (tls ? 2376 : 2375), tls }];
    }
    // ssh:// and friends cannot be probed cheaply; counted as no engine.
    return [];
  }
  const candidates = ['/var/run/docker.sock', join(homedir(), '.docker', 'run', 'docker.sock')];
  if (process.env.XDG_RUNTIME_DIR) candidates.push(join(process.env.XDG_RUNTIME_DIR, 'docker.sock'));
  return candidates.filter((path) => existsSync(path)).map((path) => ({ path }));
}

/** GET /_ping with a short bound: a stale socket file or a dead daemon must cost well under a second. */
function dockerAnswers(endpoint: DockerEndpoint, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    let received = '';
    const socket =
      'path' in endpoint ? createConnection(endpoint.path) : createConnection(endpoint.port, endpoint.host);
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(/^HTTP\/1\.[01] 200/.test(received)));
    socket.once('connect', () => {
      // Speaking HTTP over a TLS port is pointless; reaching it is the best cheap signal.
      if ('tls' in endpoint && endpoint.tls) return finish(true);
      socket.write('GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n');
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes('\r\n')) finish(/^HTTP\/1\.[01] 200/.test(received));
    });
  });
}

async function dockerAvailable(): Promise<boolean> {
  const endpoints = dockerEndpoints();
  if (endpoints.length === 0) return false;
  const answers = await Promise.all(endpoints.map((endpoint) => dockerAnswers(endpoint)));
  return answers.some(Boolean);
}

async function containerServer(options: RedisServerOptions): Promise<RedisServerHandle> {
  // Loaded lazily: it is heavy and usually not needed.
  const { GenericContainer, Wait } = await import('testcontainers');
  const command = [
    'redis-server',
    '--save',
    '',
    '--appendonly',
    'no',
    '--rename-command',
    'KEYS',
    '',
    '--protected-mode',
    'no',
  ];
  if (options.debugCommand) command.push('--enable-debug-command', 'yes');
  command.push(...(options.extraArgs ?? []));
  const container = await new GenericContainer('redis:7')
    .withCommand(command)
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  const host = container.getHost();
  const port = container.getMappedPort(6379);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let stopping: Promise<void> | undefined;
  return {
    kind: 'container',
    url: `redis://${urlHost}:${port}`,
    host,
    port,
    pid: undefined,
    description: `testcontainers redis:7 container ${container.getId().slice(0, 12)} at ${host}:${port} (Docker engine answered)`,
    stop: () => (stopping ??= container.stop().then(() => undefined)),
    pause: () => unsupported('container', 'pause'),
    resume: () => unsupported('container', 'resume'),
    restart: () => unsupported('container', 'restart'),
  };
}

/**
 * A Redis for tests, by the first that works: REDIS_URL, a redis-server on
 * PATH (child process), a Docker redis:7 container, Debian's package
 * installed with apt-get (root only). Throws naming what to install otherwise.
 */
export async function provideRedis(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) return externalServer(fromEnv);

  const onPath = findOnPath('redis-server');
  if (onPath) return startWithBinary(onPath, 'found on PATH', options);

  let containerFailure = '';
  if (await dockerAvailable()) {
    try {
      return await containerServer(options);
    } catch (error) {
      // An engine that answers a ping can still fail to pull or run an image
      // (offline, quota); the remaining options may yet work.
      containerFailure = ` (a Docker engine answered, but starting redis:7 failed: ${(error as Error).message})`;
      process.stderr.write(`[redis-harness] testcontainers failed, trying the next option${containerFailure}\n`);
    }
  }

  if (canInstallFromDebian() && (await installDebianRedis())) {
    const installed =
      findOnPath('redis-server') ?? (existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : undefined);
    if (installed) return startWithBinary(installed, "installed Debian's redis-server with apt-get", options);
  }

  throw new Error(`No Redis available for tests: ${INSTALL_HINT}${containerFailure}.`);
}
