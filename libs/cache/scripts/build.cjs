#!/usr/bin/env node
// Builds what the package ships: the CommonJS build (tsc), then, for every entry point that
// package.json exports to ES modules, a thin ESM file that re-exports the CommonJS one. One copy
// of every class serves both kinds of consumer, so Nest's injection tokens and `instanceof` on
// the library's errors hold in an application that mixes `import` and `require`.
'use strict';

const { execFileSync } = require('node:child_process');
const { readFileSync, rmSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');

const root = join(__dirname, '..');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', join(root, 'tsconfig.lib.json')], {
  stdio: 'inherit',
});

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const [entry, conditions] of Object.entries(manifest.exports)) {
  if (typeof conditions !== 'object' || !conditions.import) continue;
  const esm = join(root, conditions.import.default);
  const cjs = join(root, conditions.require.default);
  const esmTypes = join(root, conditions.import.types);
  const specifier = `./${relative(join(esm, '..'), cjs)}`;
  // The names come from loading the build itself, so the ESM entry can never drift from it.
  const names = Object.keys(require(cjs)).filter((name) => name !== '__esModule');
  if (names.length === 0) throw new Error(`${entry}: ${cjs} exports nothing`);
  const header = `// ${manifest.name}${entry.slice(1)}: the CommonJS build, re-exported (one copy of every class for import and require).\n`;
  writeFileSync(esm, `${header}import cjs from '${specifier}';\n\nexport const {\n${names.map((name) => `  ${name},\n`).join('')}} = cjs;\n`);
  writeFileSync(esmTypes, `${header}export * from '${specifier}';\n`);
  console.log(`${relative(root, esm)}: ${names.length} exports of ${relative(root, cjs)}`);
}
