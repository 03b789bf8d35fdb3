#!/usr/bin/env node
// `npm run build:release`: the Linux x64 glibc binary as it is published. zig links it against
// glibc 2.17 (cargo-zigbuild, target x86_64-unknown-linux-gnu.2.17), so it loads on every Linux
// with glibc 2.17 or newer whatever glibc the build machine has; `npm run build:native` links
// against this machine's glibc instead (2.36 here, which makes the binary need GLIBC_2.34).
//
// Writes native/zerosend.linux-x64-gnu.node, binding.js and binding.d.ts, where the plain build
// writes them and where the loader and the tests look, then reads the GLIBC_ versions the binary
// needs from its ELF and fails if any is newer than 2.17.
//
// Needs cargo-zigbuild and zig: `sh scripts/install-zig-tools.sh` installs both from PyPI into a
// folder of their own, which this script puts on PATH by itself. Extra arguments go to `napi build`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { compareVersions, GLIBC_FLOOR, highestGlibc } from './elf-glibc.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = `x86_64-unknown-linux-gnu.${GLIBC_FLOOR}`;
const BINARY = join(ROOT, 'native', 'zerosend.linux-x64-gnu.node');

function fail(message) {
  console.error(`build:release: ${message}`);
  process.exit(1);
}

/** Where scripts/install-zig-tools.sh puts the tools (the same rule as there). */
function zigToolsDir() {
  if (process.env.ZEROSEND_ZIG_TOOLS) return join(process.env.ZEROSEND_ZIG_TOOLS, 'bin');
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'zerosend', 'zig-tools', 'bin');
}

const runs = (command, args, env) => spawnSync(command, args, { env, stdio: 'ignore' }).status === 0;

/** PATH with the installed tools first, after checking that cargo-zigbuild and zig answer. */
function toolEnv() {
  const tools = zigToolsDir();
  const env = { ...process.env };
  if (existsSync(tools)) env.PATH = `${tools}${delimiter}${env.PATH ?? ''}`;
  const howToInstall =
    'install it with `sh scripts/install-zig-tools.sh` (PyPI: ziglang and cargo-zigbuild), ' +
    'or use `npm run build:native` for a development build against this machine\'s glibc';
  if (!runs('cargo-zigbuild', ['--version'], env)) fail(`cargo-zigbuild is not installed: ${howToInstall}`);
  // cargo-zigbuild runs `zig` from PATH, else `python3 -m ziglang` (the PyPI wheel).
  if (!runs('zig', ['version'], env) && !runs('python3', ['-m', 'ziglang', 'version'], env)) {
    fail(`zig is not installed: ${howToInstall}`);
  }
  return env;
}

if (process.platform !== 'linux' || process.arch !== 'x64') {
  fail(`builds the linux-x64-gnu binary on a Linux x64 machine only (this is ${process.platform}-${process.arch}); elsewhere use npm run build:native`);
}
const env = toolEnv();

// What `npm run build:native` runs, plus zig as the linker and the glibc version in the target.
const napi = join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js');
if (!existsSync(napi)) fail('@napi-rs/cli is not installed: run npm ci first');
const args = [
  napi, 'build', '--platform', '--release', '-p', 'zerosend-node', '--manifest-path', 'Cargo.toml',
  '-o', 'native', '--js', 'binding.js', '--dts', 'binding.d.ts',
  '--cross-compile', '--target', TARGET,
  ...process.argv.slice(2),
];
console.log(`build:release: napi build --cross-compile --target ${TARGET}`);
const build = spawnSync(process.execPath, args, { cwd: ROOT, env, stdio: 'inherit' });
if (build.status !== 0) fail(`napi build failed (exit ${build.status ?? build.signal})`);
if (!existsSync(BINARY)) fail(`napi build succeeded but wrote no ${BINARY}`);

const needed = highestGlibc(BINARY);
if (needed && compareVersions(needed, GLIBC_FLOOR) > 0) {
  fail(`${BINARY} needs GLIBC_${needed}, newer than the ${GLIBC_FLOOR} it is built for: check the zig target`);
}
console.log(`build:release: ${BINARY} needs GLIBC_${needed ?? '(none)'} (floor ${GLIBC_FLOOR})`);
