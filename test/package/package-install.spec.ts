import { builtinModules } from 'node:module';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { preProcessFile } from 'typescript';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import type { Report } from './app/catalog';
import {
  type AppSpec,
  CACHE_DIR,
  createApp,
  installedManifest,
  nodeBinary,
  packLibrary,
  REPO_ROOT,
  run,
  runChecked,
  throwawayRoot,
} from './throwaway-app';

/**
 * The package as a user gets it: `npm pack` of libs/cache, installed from the tarball into fresh
 * applications outside the repository (so nothing resolves to the repository's node_modules),
 * booted against the test Redis on this machine's Node, on the floors of `engines` and on the
 * current LTS lines.
 */

const root = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

const TYPES_NODE = { '@types/node': root.devDependencies['@types/node'] };

const APPS: AppSpec[] = [
  {
    // What the repository itself runs, with the optional peers @nestjs/config (options from ELILE_*
    // through cacheConfig), @nestjs/terminus (@elile/cache/health) and prom-client (/metrics).
    name: 'nest11-cjs-ioredis5',
    type: 'commonjs',
    main: 'main-config.ts',
    dependencies: Object.fromEntries(
      [
        '@nestjs/common',
        '@nestjs/core',
        '@nestjs/platform-express',
        '@nestjs/config',
        '@nestjs/terminus',
        'prom-client',
        'ioredis',
        'reflect-metadata',
        'rxjs',
      ].map((name) => [name, root.dependencies[name]]),
    ),
    devDependencies: TYPES_NODE,
  },
  {
    // The lowest versions the peer ranges accept (Nest 12.0.0's own peers are broken: its core
    // asks for @nestjs/common ^11, so the 12 line is tested on a current release only).
    name: 'peer-floors-cjs',
    type: 'commonjs',
    main: 'main-config.ts',
    dependencies: {
      '@nestjs/common': '11.0.0',
      '@nestjs/core': '11.0.0',
      '@nestjs/platform-express': '11.0.0',
      '@nestjs/config': '4.0.0',
      '@nestjs/terminus': '11.0.0',
      'prom-client': '15.0.0',
      ioredis: '5.0.0',
      'reflect-metadata': '0.1.13',
      // rxjs 7.1.0 declares no types for module resolution nodenext; the app could not compile.
      rxjs: '7.8.2',
    },
    devDependencies: TYPES_NODE,
  },
  {
    // Nest 12 is ES modules only; the app is one too, with ioredis 6 and no optional peer.
    name: 'nest12-esm-ioredis6',
    type: 'module',
    main: 'main-plain.ts',
    dependencies: {
      '@nestjs/common': '12.5.1',
      '@nestjs/core': '12.5.1',
      '@nestjs/platform-express': '12.5.1',
      ioredis: '6.0.0',
      'reflect-metadata': '0.2.2',
      rxjs: '7.8.2',
    },
    devDependencies: TYPES_NODE,
  },
];

/**
 * The machine's Node (the one running jest), the floors of `engines` on the 20 and 22 lines (the
 * first releases that load Nest 12's ES modules with `require`) and the current LTS lines, from the
 * npm registry.
 */
const MACHINE = `${process.version} (this machine's)`;
const NODE_VERSIONS = [MACHINE, '20.19.0', '22.12.0', '24.22.3', '26.12.1'];

const SETUP_TIMEOUT_MS = 15 * 60_000;
const BOOT_TIMEOUT_MS = 60_000;

interface Prepared {
  tarball: string;
  apps: Map<string, string>;
  nodes: Map<string, string>;
}

let throwaway: string;
let prepared: Prepared;
const namespaces: string[] = [];

function phase<T>(label: string, timings: string[], work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  return work().finally(() => timings.push(`${label} ${((performance.now() - start) / 1000).toFixed(1)} s`));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

/** The package name a bare specifier names (`@scope/name/deep` -> `@scope/name`). */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

beforeAll(async () => {
  const timings: string[] = [];
  const start = performance.now();
  throwaway = throwawayRoot();
  const tarball = await phase('npm pack (with the prepack build)', timings, () => packLibrary(throwaway));
  const nodes = new Map<string, string>([[MACHINE, process.execPath]]);
  const installs = NODE_VERSIONS.filter((version) => version !== MACHINE).map((version) =>
    phase(`Node ${version}`, timings, () => nodeBinary(version)).then((binary) => void nodes.set(version, binary)),
  );
  const apps = new Map<string, string>();
  // One app at a time: two npm installs and two compilers at once only fight over the cores.
  for (const spec of APPS) {
    apps.set(
      spec.name,
      await phase(`install + compile ${spec.name}`, timings, () => createApp(throwaway, spec, tarball)),
    );
  }
  await Promise.all(installs);
  prepared = { tarball, apps, nodes };
  process.stderr.write(
    `[package test] ready in ${((performance.now() - start) / 1000).toFixed(1)} s (${timings.join(', ')}); cache ${CACHE_DIR}\n`,
  );
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  if (throwaway) rmSync(throwaway, { recursive: true, force: true });
  for (const namespace of namespaces) await deleteNamespace(testRedisUrl(), namespace);
});

describe('the tarball', () => {
  it('holds the build, its declarations, package.json and README only: no sources, tests, demo or source maps', async () => {
    const { stdout } = await runChecked('tar', ['-tzf', prepared.tarball], { cwd: throwaway, timeoutMs: 30_000 });
    const files = stdout
      .trim()
      .split('\n')
      .map((file) => file.replace(/^package\//, ''));
    const outside = files.filter((file) => !file.startsWith('dist/') && !['package.json', 'README.md'].includes(file));
    expect(outside).toEqual([]);
    expect(files.filter((file) => !/\.(js|mjs|d\.ts|d\.mts)$/.test(file) && file.startsWith('dist/'))).toEqual([]);
    const unwanted = /(^|\/)(test|tests|__tests__|bench|demo|src|fixtures?)\/|\.(spec|e2e-spec)\.|\.map$|tsbuildinfo/;
    expect(files.filter((file) => unwanted.test(file))).toEqual([]);
    // Each entry point package.json exports, for both kinds of consumer, with its types.
    const exported = Object.values(installedManifest(prepared.apps.get(APPS[0].name)!, '@elile/cache').exports ?? {})
      .flatMap((conditions) =>
        typeof conditions === 'string' ? [conditions] : Object.values(conditions).flatMap((c) => Object.values(c)),
      )
      .map((file) => file.replace(/^\.\//, ''));
    expect(exported.length).toBeGreaterThan(1);
    expect(exported.filter((file) => !files.includes(file))).toEqual([]);
    for (const entry of ['index', 'testing/index', 'health/index', 'metrics/index']) {
      for (const extension of ['.js', '.d.ts', '.mjs', '.d.mts']) expect(files).toContain(`dist/${entry}${extension}`);
    }
    // Every script has its declarations.
    const scripts = files.filter((file) => file.endsWith('.js'));
    expect(scripts.filter((file) => !files.includes(file.replace(/\.js$/, '.d.ts')))).toEqual([]);
  });

  it('requires only Node built-ins, its dependencies and its peers', () => {
    const appDir = prepared.apps.get(APPS[0].name)!;
    const installedDir = join(appDir, 'node_modules', '@elile', 'cache');
    const manifest = installedManifest(appDir, '@elile/cache');
    const allowed = new Set([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    const bare = new Set<string>();
    for (const file of filesUnder(join(installedDir, 'dist')).filter((f) => /\.(js|mjs)$/.test(f))) {
      const code = readFileSync(join(installedDir, 'dist', file), 'utf8');
      // TypeScript's own scanner finds require(), import() and import/export-from, not strings.
      for (const { fileName: specifier } of preProcessFile(code, true, true).importedFiles) {
        if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
        bare.add(packageOf(specifier));
      }
    }
    expect(bare.size).toBeGreaterThan(0);
    expect([...bare].filter((name) => !allowed.has(name))).toEqual([]);
  });
});

describe.each(APPS.map((spec) => [spec.name, spec] as const))('an application: %s', (name, spec) => {
  it.each(NODE_VERSIONS.map((version) => [version]))(
    'boots on Node %s against Redis: cached call, tag invalidation, locked call',
    async (version) => {
      const appDir = prepared.apps.get(name)!;
      const namespace = uniqueNamespace(`pkg-${name}`);
      namespaces.push(namespace);
      const env = {
        APP_REDIS_URL: testRedisUrl(),
        APP_NAMESPACE: namespace,
        ELILE_REDIS_URL: testRedisUrl(),
        ELILE_CACHE_NAMESPACE: namespace,
      };
      const result = await run(prepared.nodes.get(version)!, ['dist/main.js'], {
        cwd: appDir,
        env,
        timeoutMs: BOOT_TIMEOUT_MS,
      });
      if (result.code !== 0) throw new Error(`the app exited with ${result.code}:\n${result.stderr}\n${result.stdout}`);
      const report = JSON.parse(result.stdout.trim().split('\n').pop()!) as Report & {
        configError: string;
        health: string;
        metrics: string;
      };
      process.stderr.write(`[package test] ${name} on Node ${report.node}: ${JSON.stringify(report.versions)}\n`);

      expect(report.node).toBe(version === MACHINE ? process.version : `v${version}`);
      expect(report.versions).toEqual({
        '@nestjs/core': spec.dependencies['@nestjs/core'],
        ioredis: spec.dependencies.ioredis,
        '@elile/cache': installedManifest(appDir, '@elile/cache').version,
      });
      expect(report.pong).toBe('PONG');
      // @Cacheable: loaded once, then a hit that round-trips a Date and a Map.
      expect([report.firstLoads, report.secondLoads]).toEqual([1, 1]);
      expect(report.secondIsDate).toBe(true);
      expect(report.secondAliases).toEqual([['a', 1]]);
      // Tag invalidation deleted the entry; the next call loaded again.
      expect(report.invalidated).toBe(1);
      expect(report.afterInvalidationLoads).toBe(2);
      expect(report.getOrSet).toEqual({ answer: 42 });
      // @WithLock ran under a lock (a fencing token), and refused while LockService held it.
      expect(report.exportToken).toBeGreaterThan(0);
      expect(report.conflict).toBe('LockNotAcquiredError');
      expect(report.conflictIsPackageClass).toBe(true);
      // import and require see one copy of the package (no dual-package hazard).
      expect(report.requiredIsImported).toBe(true);
      // Over HTTP: a handler's response cached (X-Cache), an Observable handler too, and the second
      // of two concurrent locked writes refused with 409.
      expect(report.http).toEqual([
        '200 MISS {"id":"s-9","loads":1}',
        '200 HIT {"id":"s-9","loads":1}',
        '200 MISS {"id":"s-9","loads":2}',
        '200 HIT {"id":"s-9","loads":2}',
        '201 - exported',
        expect.stringMatching(/^409 - \{"statusCode":409,"error":"Conflict"/),
      ]);
      // @elile/cache/testing: the decorated service on the in-memory module, hit counted.
      expect(report.testingModule).toEqual({ loads: 1, entries: ['s-1'] });
      // The entries are under the namespace the test chose (from ELILE_* through cacheConfig, or in code).
      expect(await deleteNamespace(testRedisUrl(), namespace)).toBeGreaterThan(0);
      if (!('@nestjs/config' in spec.dependencies)) {
        expect(report.configError).toContain('npm i @nestjs/config');
        const probe = await run(prepared.nodes.get(version)!, ['-e', "require.resolve('@nestjs/config')"], {
          cwd: appDir,
          timeoutMs: 30_000,
        });
        expect(probe.code).not.toBe(0);
      }
      // @elile/cache/health and /metrics: working where their peer is installed; elsewhere their
      // error names it.
      for (const [entry, peer, expected] of [
        ['health', '@nestjs/terminus', 'up'],
        ['metrics', 'prom-client', 'elile_cache_* scraped'],
      ] as const) {
        if (peer in spec.dependencies) {
          expect(report[entry]).toBe(expected);
        } else {
          const probe = await run(prepared.nodes.get(version)!, ['-e', `require('@elile/cache/${entry}')`], {
            cwd: appDir,
            timeoutMs: 30_000,
          });
          expect(probe.code).not.toBe(0);
          expect(probe.stderr).toContain(`Cannot find module '${peer}'`);
        }
      }
    },
    BOOT_TIMEOUT_MS,
  );
});
