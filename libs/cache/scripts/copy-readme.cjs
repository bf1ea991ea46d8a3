#!/usr/bin/env node
// The registry shows the README of the tarball; the project keeps one, at the repository root.
'use strict';

const { copyFileSync } = require('node:fs');
const { join } = require('node:path');

copyFileSync(join(__dirname, '..', '..', '..', 'README.md'), join(__dirname, '..', 'README.md'));
