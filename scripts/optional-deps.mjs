#!/usr/bin/env node
// The root package's optionalDependencies: one entry per npm/<platform>/ package, at its version.
//
// They are written into package.json only when a package is made (the publish job in
// .github/workflows/CI.yml, the staged copy scripts/pack-test.mjs packs), never kept in the
// repository: the platform packages of an unreleased version do not exist on the registry yet,
// and `npm ci` refuses a package.json whose dependencies its lockfile cannot list.
//
//   node scripts/optional-deps.mjs                 prints them
//   node scripts/optional-deps.mjs --write <file>  adds them to that package.json
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** `{ "zerosend-<platform>": "<version>" }` for every folder in npm/. */
export function optionalDependencies(root = ROOT) {
  const entries = readdirSync(join(root, 'npm'))
    .sort()
    .map((dir) => JSON.parse(readFileSync(join(root, 'npm', dir, 'package.json'), 'utf8')))
    .map((pkg) => [pkg.name, pkg.version]);
  return Object.fromEntries(entries);
}

/** Adds them to the package.json at `file` (a staged or CI copy, not the repository's). */
export function writeOptionalDependencies(file, root = ROOT) {
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  pkg.optionalDependencies = optionalDependencies(root);
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
  return pkg.optionalDependencies;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--write');
  const deps = at === -1 ? optionalDependencies() : writeOptionalDependencies(resolve(process.argv[at + 1]));
  console.log(JSON.stringify(deps, null, 2));
}
