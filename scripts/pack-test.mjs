#!/usr/bin/env node
// Installs zerosend the way a user does and checks that it works (issue 5, items 1-3):
//
// 1. `npm pack` the main package and this host's platform package (the .node that
//    `npm run build:native` left in native/ is copied into a staged copy of npm/<platform>/),
//    install both tarballs into a fresh temp project with no Rust toolchain on PATH, and run the
//    smoke test there from CommonJS and from ESM; `npx zerosend` answers, and `zerosend serve`
//    answers curl.
// 2. The same without the platform package (`--omit=optional`): everything passes through the
//    stream fallback, capabilities().native is false, and the fallback warns once.
// 3. The binary's highest GLIBC symbol version (read from its ELF) against the glibc 2.17 it is
//    built for and README.md promises, and the package's load time (median of several fresh
//    processes).
//
// Output is TAP-like (`ok N - ...`, `# pass N`, `# fail N`, `# skip N`), which scripts/test.mjs
// adds to its closing line. Flags: --keep leaves the temp projects for inspection.
// Environment: ZEROSEND_GLIBC_STRICT=1 fails when the binary needs a newer glibc than that (.ci/run
// and CI set it: they test the `npm run build:release` binary; `npm run build:native` links
// against the host's glibc, which a local run reports without failing).
import { spawnSync, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { compareVersions, GLIBC_FLOOR, highestGlibc } from './elf-glibc.mjs';
import { writeOptionalDependencies } from './optional-deps.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SMOKE_DIR = join(ROOT, 'scripts', 'pack-smoke');
const KEEP = process.argv.includes('--keep');
const LOAD_RUNS = 11;

// ---------------------------------------------------------------- reporting

let count = 0;
const tally = { pass: 0, fail: 0, skip: 0 };

function ok(name, note) {
  tally.pass++;
  console.log(`ok ${++count} - ${name}${note ? `  # ${note}` : ''}`);
}
function notOk(name, reason) {
  tally.fail++;
  console.log(`not ok ${++count} - ${name}`);
  for (const line of String(reason).trim().split('\n').slice(0, 40)) console.log(`  # ${line}`);
}
function skip(name, reason) {
  tally.skip++;
  console.log(`ok ${++count} - ${name} # SKIP ${reason}`);
}
/** Runs one check; a thrown error is its failure. */
async function check(name, fn) {
  try {
    const note = await fn();
    ok(name, note);
    return true;
  } catch (error) {
    notOk(name, error instanceof Error ? error.message : error);
    return false;
  }
}

// ---------------------------------------------------------------- the host and its environment

/** This host's npm/<dir> package, or null where zerosend ships no binary (Windows...). */
function hostPlatformDir() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const glibc = process.report?.getReport()?.header?.glibcVersionRuntime;
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
  }
  if (platform === 'darwin' || platform === 'freebsd') return `${platform}-${arch}`;
  return null;
}

/**
 * The environment of a user without Rust: PATH without any folder that holds cargo, rustc or
 * rustup (node and npm are linked into a folder of their own if they shared one), no cargo or
 * rustup variables, nothing that points the loader somewhere else.
 */
function userEnv(work) {
  const exe = process.platform === 'win32' ? ['', '.exe'] : [''];
  const rustTools = ['cargo', 'rustc', 'rustup'].flatMap((tool) => exe.map((suffix) => tool + suffix));
  const isRustDir = (dir) => rustTools.some((tool) => existsSync(join(dir, tool)));
  // Windows spells it Path; a copied env object is case-sensitive, so keep the one real key.
  const pathKey = Object.keys(process.env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH';
  const path = (process.env[pathKey] ?? '').split(delimiter).filter((dir) => dir && !isRustDir(dir));
  const nodeDir = dirname(process.execPath);
  if (isRustDir(nodeDir)) {
    const shim = join(work, 'bin');
    mkdirSync(shim, { recursive: true });
    for (const tool of ['node', 'npm', 'npx']) {
      const source = join(nodeDir, tool);
      if (existsSync(source)) cpSync(source, join(shim, tool), { dereference: false });
    }
    path.unshift(shim);
  }
  const env = { ...process.env, [pathKey]: path.join(delimiter) };
  for (const name of Object.keys(env)) {
    if (/^(CARGO|RUSTUP|RUSTC|NAPI_RS_|ZEROSEND_|NODE_PATH$|NODE_OPTIONS$|npm_)/i.test(name)) delete env[name];
  }
  return env;
}

/** npm and npx are .cmd scripts on Windows, which Node runs only through a shell. */
const needsShell = (command) => process.platform === 'win32' && (command === 'npm' || command === 'npx');

function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    shell: needsShell(command),
    ...options,
  });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0 && !options.allowFailure) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}\n${result.stderr}\n${result.stdout}`);
  }
  return result;
}

// ---------------------------------------------------------------- packing and installing

/** `npm pack` in `dir`; returns the tarball's path in `dest`. */
function npmPack(dir, dest, env) {
  const { stdout } = run('npm', ['pack', '--json', '--pack-destination', dest], { cwd: dir, env });
  const [info] = JSON.parse(stdout);
  return { path: join(dest, info.filename), files: info.files.map((f) => f.path) };
}

/**
 * The main package as it is published: the files `npm pack` would take from the repository,
 * copied to `work`, with the optionalDependencies the publish job adds (scripts/optional-deps.mjs).
 */
function stageMainPackage(work, env) {
  const { stdout } = run('npm', ['pack', '--dry-run', '--json'], { cwd: ROOT, env });
  const stage = join(work, 'main');
  for (const { path } of JSON.parse(stdout)[0].files) {
    mkdirSync(dirname(join(stage, path)), { recursive: true });
    copyFileSync(join(ROOT, path), join(stage, path));
  }
  const optional = writeOptionalDependencies(join(stage, 'package.json'));
  return { stage, optional };
}

/** The platform package staged in `work` with this host's binary in it. */
function stagePlatformPackage(dir, work) {
  const file = `zerosend.${dir}.node`;
  // A release artifact placed in npm/<dir>/ (CI) wins over a local build in native/.
  const candidates = [join(ROOT, 'npm', dir, file), join(ROOT, 'native', file)];
  const binary = candidates.find((p) => existsSync(p));
  if (!binary) throw new Error(`no ${file} in npm/${dir}/ or native/: run npm run build:native first`);
  const stage = join(work, 'platform', dir);
  mkdirSync(stage, { recursive: true });
  for (const name of ['package.json', 'README.md']) copyFileSync(join(ROOT, 'npm', dir, name), join(stage, name));
  copyFileSync(binary, join(stage, file));
  return { stage, binary };
}

/** A fresh project in `work/name` with the given tarballs installed. */
function makeApp(work, name, tarballs, extraArgs, env) {
  const app = join(work, name);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...extraArgs, ...tarballs], { cwd: app, env });
  for (const file of readdirSync(SMOKE_DIR)) copyFileSync(join(SMOKE_DIR, file), join(app, file));
  return app;
}

// ---------------------------------------------------------------- checks inside an installed project

function smoke(app, flavour, { expectNative, platformDir, env, extraEnv = {} }) {
  const script = flavour === 'esm' ? 'smoke.mjs' : 'smoke.cjs';
  const result = run('node', [script], {
    cwd: app,
    env: { ...env, EXPECT_NATIVE: expectNative ? '1' : '0', PLATFORM_DIR: platformDir ?? '', ...extraEnv },
    allowFailure: true,
  });
  if (result.status !== 0) throw new Error(`${result.stderr}${result.stdout}`);
  return { report: JSON.parse(result.stdout.trim().split('\n').pop()), stderr: result.stderr };
}

const warningsIn = (stderr) => (stderr.match(/\[ZEROSEND_FALLBACK\]/g) ?? []).length;

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** `npx zerosend serve` on a folder with one file; curl fetches it. */
async function serveSmoke(app, env) {
  const root = join(app, 'www');
  mkdirSync(root, { recursive: true });
  const body = 'served by zerosend\n'.repeat(1000);
  writeFileSync(join(root, 'hello.txt'), body);
  const port = await freePort();
  const child = spawn('npx', ['--no-install', 'zerosend', 'serve', root, '--port', String(port), '--host', '127.0.0.1'], {
    cwd: app,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32',
    shell: needsShell('npx'),
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const curl = spawnSync('curl', ['-sS', '--fail', '--max-time', '5', `http://127.0.0.1:${port}/hello.txt`], {
        encoding: 'utf8',
      });
      if (curl.status === 0) {
        if (curl.stdout !== body) throw new Error(`curl got ${curl.stdout.length} bytes, expected ${body.length}`);
        return `curl fetched ${body.length} bytes`;
      }
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`zerosend serve did not answer (exit ${child.exitCode}): ${output}${curl.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    // npx runs the CLI in a child of its own: end the whole group we started.
    try {
      if (process.platform === 'win32') spawnSync('taskkill', ['/pid', String(child.pid), '/T', '/F']);
      else process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await exited;
  }
}

/** README.md's promise, in the form "glibc 2.17 or newer". */
function promisedGlibc() {
  const readme = join(ROOT, 'README.md');
  if (!existsSync(readme)) return null;
  return readFileSync(readme, 'utf8').match(/glibc (\d+\.\d+) or newer/i)?.[1] ?? null;
}

/**
 * What loading zerosend costs a fresh process (require or import), median of LOAD_RUNS: wall
 * milliseconds, and CPU milliseconds (user + system), which a busy machine inflates far less.
 */
function loadTime(app, env, how) {
  const measure =
    'const t=process.hrtime.bigint(), c=process.cpuUsage(); LOAD; const u=process.cpuUsage(c);' +
    'console.log(JSON.stringify({wall:Number(process.hrtime.bigint()-t)/1e6,cpu:(u.user+u.system)/1e3}))';
  const code = measure.replace('LOAD', how === 'import' ? "await import('zerosend')" : "require('zerosend')");
  const wall = [];
  const cpu = [];
  for (let i = 0; i < LOAD_RUNS; i++) {
    const args = how === 'import' ? ['--input-type=module', '-e', code] : ['-e', code];
    const { stdout } = run('node', args, { cwd: app, env: { ...env, ZEROSEND_SILENCE_FALLBACK_WARNING: '1' } });
    const sample = JSON.parse(stdout.trim());
    wall.push(sample.wall);
    cpu.push(sample.cpu);
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { wall: median(wall), cpu: median(cpu) };
}

// ---------------------------------------------------------------- the run

const work = mkdtempSync(join(tmpdir(), 'zerosend-pack-'));
const env = userEnv(work);
const platformDir = hostPlatformDir();
console.log(`# install-as-a-user tests in ${work} (host package: ${platformDir ?? 'none'})`);

await check('no Rust toolchain on the PATH the installs and smoke tests see', () => {
  for (const tool of ['cargo', 'rustc']) {
    const probe = spawnSync(tool, ['--version'], { env });
    if (!probe.error) throw new Error(`${tool} still runs with the user PATH`);
  }
});

await check('dist/ is built and not older than src/', () => {
  const newest = (dir) =>
    readdirSync(dir, { recursive: true })
      .map((f) => join(dir, f))
      .filter((f) => f.endsWith('.ts'))
      .reduce((m, f) => Math.max(m, statSync(f).mtimeMs), 0);
  const built = join(ROOT, 'dist', 'index.js');
  if (!existsSync(built)) throw new Error('dist/index.js is missing: run npm run build:ts');
  if (statSync(built).mtimeMs < newest(join(ROOT, 'src')) - 1000) {
    // tsc rewrites every output file, so index.js's age is the build's age.
    throw new Error('dist/ is older than src/: run npm run build:ts');
  }
});

let main = null;
await check('npm pack: the main package ships only what users need', () => {
  const { stage, optional } = stageMainPackage(work, env);
  main = npmPack(stage, work, env);
  const files = main.files;
  if (platformDir && !optional[`zerosend-${platformDir}`]) {
    throw new Error(`optionalDependencies lack zerosend-${platformDir}: ${JSON.stringify(optional)}`);
  }
  const required = ['package.json', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'esm/index.mjs', 'esm/index.d.mts', 'native/binding.js', 'native/binding.d.ts'];
  const missing = required.filter((f) => !files.includes(f));
  const unwanted = files.filter((f) => /\.node$|\.map$|^src\/|^__test__\/|^crates\/|^bench\/|^scripts\/|^npm\/|^target\/|Cargo\./.test(f));
  if (missing.length || unwanted.length) {
    throw new Error(`missing: ${missing.join(', ') || '-'}; unwanted: ${unwanted.join(', ') || '-'}`);
  }
  return `${files.length} files`;
});

let platform = null;
if (platformDir) {
  await check(`npm pack: zerosend-${platformDir} with the binary in it`, () => {
    const { stage, binary } = stagePlatformPackage(platformDir, work);
    platform = { ...npmPack(stage, work, env), binary };
    const file = `zerosend.${platformDir}.node`;
    if (!platform.files.includes(file)) throw new Error(`${file} is not in the tarball: ${platform.files.join(', ')}`);
    return `binary from ${binary}`;
  });
} else {
  skip('npm pack: the platform package', `zerosend ships no binary for ${process.platform}-${process.arch}`);
}

// 1. Installed with the platform package: the native binding loads.
let appNative = null;
if (main && platform) {
  await check('install both tarballs into a fresh project (no Rust on PATH)', () => {
    appNative = makeApp(work, 'app-native', [main.path, platform.path], [], env);
  });
}
for (const flavour of ['cjs', 'esm']) {
  const name = `with the platform package, ${flavour}: transfer() over loopback, sha256 equal, native method`;
  if (!appNative) {
    skip(name, 'no native install');
    continue;
  }
  await check(name, () => {
    const { report, stderr } = smoke(appNative, flavour, { expectNative: true, platformDir, env });
    if (warningsIn(stderr) !== 0) throw new Error(`unexpected fallback warning: ${stderr}`);
    return `method ${report.method}, ${report.bytes} bytes`;
  });
}

// 2. Installed without it: the stream fallback, and one warning.
let appFallback = null;
if (main) {
  await check('install the main tarball alone (--omit=optional)', () => {
    appFallback = makeApp(work, 'app-fallback', [main.path], ['--omit=optional'], env);
    if (platformDir && existsSync(join(appFallback, 'node_modules', `zerosend-${platformDir}`))) {
      throw new Error('the platform package got installed anyway');
    }
  });
}
for (const flavour of ['cjs', 'esm']) {
  const name = `without the platform package, ${flavour}: same smoke through the fallback, native false, one warning`;
  if (!appFallback) {
    skip(name, 'no fallback install');
    continue;
  }
  await check(name, () => {
    const { report, stderr } = smoke(appFallback, flavour, { expectNative: false, platformDir, env });
    const warnings = warningsIn(stderr);
    if (warnings !== 1) throw new Error(`expected one fallback warning, saw ${warnings}: ${stderr}`);
    return `method ${report.method}`;
  });
}
if (appFallback) {
  await check('without the platform package: ZEROSEND_SILENCE_FALLBACK_WARNING=1 silences the warning', () => {
    const { stderr } = smoke(appFallback, 'cjs', {
      expectNative: false,
      platformDir,
      env,
      extraEnv: { ZEROSEND_SILENCE_FALLBACK_WARNING: '1' },
    });
    if (warningsIn(stderr) !== 0) throw new Error(`warning printed anyway: ${stderr}`);
  });
}

// Types, as a TypeScript user's compiler resolves them (node16: `exports` conditions apply).
if (appNative) {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const name = 'types resolve for import (.mts) and require (.cts) under moduleResolution node16';
  if (!existsSync(tsc)) {
    skip(name, 'typescript is not installed in the repository');
  } else {
    await check(name, () => {
      writeFileSync(
        join(appNative, 'types-esm.mts'),
        "import zerosend, { transfer, capabilities, type TransferResult } from 'zerosend';\n" +
          "export const r: Promise<TransferResult> = transfer('f', 1);\n" +
          'export const c: boolean = capabilities().native && typeof zerosend.transfer === "function";\n',
      );
      writeFileSync(
        join(appNative, 'types-cjs.cts'),
        "import { transfer, type TransferResult } from 'zerosend';\nimport zs = require('zerosend');\n" +
          "export const r: Promise<TransferResult> = transfer('f', 1);\nexport const c: boolean = zs.capabilities().native;\n",
      );
      const types = join(ROOT, 'node_modules', '@types');
      run('node', [tsc, '--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022',
        '--typeRoots', types, '--types', 'node', 'types-esm.mts', 'types-cjs.cts'], { cwd: appNative, env });
    });
  }
}

// The framework doors, as subpath exports: loadable without Fastify or Koa installed (they are
// optional peers, and only their types are imported), one instance whether required or imported.
for (const [label, app] of [['with the platform package', appNative], ['without it', appFallback]]) {
  if (!app) continue;
  await check(`${label}: zerosend/fastify and zerosend/koa, by require and import, neither framework installed`, () => {
    const script =
      "const { createRequire } = require('node:module');\n" +
      "const req = createRequire(process.cwd() + '/');\n" +
      "(async () => {\n" +
      "  const plugin = req('zerosend/fastify');\n" +
      "  const koa = req('zerosend/koa');\n" +
      "  const { default: esmPlugin, zerosendFastify: esmNamed } = await import('zerosend/fastify');\n" +
      "  const esmKoa = await import('zerosend/koa');\n" +
      "  if (typeof plugin !== 'function' || plugin !== esmPlugin || plugin !== esmNamed || plugin.default !== plugin || plugin.zerosendFastify !== plugin) throw new Error('zerosend/fastify: not one plugin function');\n" +
      "  if (plugin[Symbol.for('skip-override')] !== true) throw new Error('zerosend/fastify: not marked skip-override');\n" +
      "  if (typeof koa.serve !== 'function' || koa.serve !== esmKoa.serve || koa.send !== esmKoa.send) throw new Error('zerosend/koa: serve/send differ');\n" +
      "  for (const name of ['fastify', 'koa']) { try { req.resolve(name); throw new Error(name + ' is installed: the check proves nothing'); } catch (e) { if (e.code !== 'MODULE_NOT_FOUND') throw e; } }\n" +
      "})().catch((e) => { console.error(e.stack || e); process.exit(1); });\n";
    writeFileSync(join(app, 'doors.cjs'), script);
    run('node', ['doors.cjs'], { cwd: app, env });
  });
}

// The CLI, as a user runs it.
for (const [label, app] of [['with the platform package', appNative], ['without it', appFallback]]) {
  if (!app) continue;
  await check(`${label}: npx zerosend --version`, () => {
    const { stdout } = run('npx', ['--no-install', 'zerosend', '--version'], { cwd: app, env });
    const expected = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
    if (stdout.trim() !== expected) throw new Error(`printed ${stdout.trim()}, expected ${expected}`);
  });
  const name = `${label}: npx zerosend serve answers curl`;
  if (!existsSync(join(app, 'node_modules', 'zerosend', 'dist', 'cli', 'serve.js'))) {
    skip(name, 'the serve command is not in this build (src/cli/serve.ts missing)');
  } else if (spawnSync('curl', ['--version']).error) {
    skip(name, 'curl is not installed');
  } else {
    await check(name, () => serveSmoke(app, env));
  }
}

// 3. What the binary needs, and what loading costs.
if (platform && process.platform === 'linux' && platformDir.endsWith('-gnu')) {
  const strict = process.env.ZEROSEND_GLIBC_STRICT === '1';
  const name = `the binary needs glibc ${GLIBC_FLOOR} at most, as README.md promises`;
  await check(name, () => {
    // Read from the ELF's version-needed section (scripts/elf-glibc.mjs): no binutils needed.
    const needed = highestGlibc(platform.binary);
    const promised = promisedGlibc();
    console.log(`# glibc: ${platform.binary} needs GLIBC_${needed}; README.md promises ${promised ?? '(no "glibc X.Y or newer" in README.md)'}`);
    if (promised !== GLIBC_FLOOR) throw new Error(`README.md promises glibc ${promised} or newer; the release build is for ${GLIBC_FLOOR}`);
    if (needed && compareVersions(needed, GLIBC_FLOOR) <= 0) return `GLIBC_${needed} <= ${GLIBC_FLOOR}`;
    const problem = `needs GLIBC_${needed}, newer than ${GLIBC_FLOOR}`;
    if (strict) throw new Error(`${problem}: test the binary of npm run build:release`);
    return `not enforced for a development build (ZEROSEND_GLIBC_STRICT=1 enforces it, as .ci/run and CI do): ${problem}`;
  });
}

for (const [label, app] of [['native', appNative], ['fallback', appFallback]]) {
  if (!app) continue;
  await check(`load time, ${label} install (measured, not asserted)`, () => {
    const required = loadTime(app, env, 'require');
    const imported = loadTime(app, env, 'import');
    const fmt = (t) => `${t.wall.toFixed(1)} ms wall, ${t.cpu.toFixed(1)} ms CPU`;
    const load = loadavg()[0].toFixed(2);
    console.log(
      `# load time (${label}, median of ${LOAD_RUNS} fresh processes, load average ${load}): ` +
        `require ${fmt(required)}; import ${fmt(imported)}`,
    );
    return `require ${fmt(required)}; import ${fmt(imported)}`;
  });
}

if (KEEP) console.log(`# kept ${work}`);
else rmSync(work, { recursive: true, force: true });

console.log(`\n1..${count}`);
console.log(`# tests ${count}`);
console.log(`# pass ${tally.pass}`);
console.log(`# skip ${tally.skip}`);
console.log(`# fail ${tally.fail}`);
process.exit(tally.fail === 0 ? 0 : 1);
