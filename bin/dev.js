#!/usr/bin/env -S node --import tsx
// Development entry: runs the TypeScript sources directly (needs `npx tsx`), no build step.
// CommonJS like run.js (bin/package.json); oclif gets the package root, not this folder.
/* global __dirname */
import('@oclif/core').then(({execute}) => execute({development: true, dir: process.getBuiltinModule('node:path').join(__dirname, '..')}))
