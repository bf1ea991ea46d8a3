#!/usr/bin/env node
// Builds what the package ships: the CommonJS build (tsc), then, for every entry point that
// package.json exports to ES modules, a thin ESM file that re-exports the CommonJS one. One copy
// of every class serves both kinds of consumer, so Nest's injection tokens and `instanceof` on
// the library's errors hold in an application that mixes `import` and `require`.
'use strict';

const { execFileSync } = require('node:child_process');
const { readFileSync, rmSync, writeFileSync } = require('node:fs');
const { join, relative, sep } = require('node:path');

const root = join(__dirname, '..');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', join(root, 'tsconfig.lib.json')], {
  stdio: 'inherit',
});

/**
 * Loads one entry of the build in a fresh process and reports its export names and the packages
 * its own files require while loading (not the lazy ones, such as @nestjs/config), by name.
 */
function inspectEntry(cjs) {
  const script = `
    const Module = require('node:module');
    const own = ${JSON.stringify(dist + sep)};
    const packages = new Set();
    const load = Module._load;
    Module._load = function (request, parent, isMain) {
      const bare = !request.startsWith('.') && !request.startsWith('/') && !Module.isBuiltin(request);
      if (bare && parent && parent.filename && parent.filename.startsWith(own)) {
        packages.add(request.split('/').slice(0, request.startsWith('@') ? 2 : 1).join('/'));
      }
      return load.apply(this, arguments);
    };
    const names = Object.keys(require(${JSON.stringify(cjs)})).filter((name) => name !== '__esModule');
    process.stdout.write(JSON.stringify({ names, packages: [...packages].sort() }));
  `;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
}

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const [entry, conditions] of Object.entries(manifest.exports)) {
  if (typeof conditions !== 'object' || !conditions.import) continue;
  const esm = join(root, conditions.import.default);
  const cjs = join(root, conditions.require.default);
  const esmTypes = join(root, conditions.import.types);
  const specifier = `./${relative(join(esm, '..'), cjs)}`;
  // The names come from loading the build itself, so the ESM entry can never drift from it.
  const { names, packages } = inspectEntry(cjs);
  if (names.length === 0) throw new Error(`${entry}: ${cjs} exports nothing`);
  const header = `// ${manifest.name}${entry.slice(1)}: the CommonJS build, re-exported (one copy of every class for import and require).\n`;
  // Nest 12 is ES modules only, and Node 20.19.0 and 22.12.0 (not 20.20.2) refuse to require() an
  // ES module of the importing graph that has not been evaluated yet (ERR_REQUIRE_CYCLE_MODULE,
  // measured by the package test). So the Nest packages the build requires are imported first,
  // which evaluates them before this file, and the build is required when this file runs, not
  // while the graph is being linked. Other packages are left to require(): importing one that
  // ships both formats would load its ESM copy for nothing.
  const nest = packages.filter((name) => name.startsWith('@nestjs/'));
  const code =
    header +
    nest.map((name) => `import '${name}';\n`).join('') +
    `import { createRequire } from 'node:module';\n\n` +
    `const cjs = createRequire(import.meta.url)('${specifier}');\n\n` +
    `export const {\n${names.map((name) => `  ${name},\n`).join('')}} = cjs;\n`;
  writeFileSync(esm, code);
  writeFileSync(esmTypes, `${header}export * from '${specifier}';\n`);
  console.log(`${relative(root, esm)}: ${names.length} exports of ${relative(root, cjs)}, imported after ${nest.join(', ')}`);
}
