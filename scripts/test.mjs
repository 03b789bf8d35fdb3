#!/usr/bin/env node
// The project's test command, each part with its own output, then one closing line
// `N passed, N failed` over all of them:
//   1. the Rust core's tests (cargo test);
//   2. the public API's ava suite with the native binding;
//   3. the same suite again on the stream fallback (ZEROSEND_FORCE_FALLBACK=1): tests that need
//      the binding skip themselves there (__test__/helpers/native.ts);
//   4. the install-as-a-user tests (scripts/pack-test.mjs): npm pack, install into a fresh
//      project without Rust, smoke from ESM and CommonJS, with and without the platform package.
// Extra arguments go to ava (e.g. `npm test -- __test__/transfer.spec.ts`); such a focused run
// skips part 4. Each part can be skipped: ZEROSEND_TEST_SKIP_CARGO=1, ZEROSEND_TEST_SKIP_FALLBACK=1,
// ZEROSEND_TEST_SKIP_PACK=1.
//
// The summary lists every test that skipped itself, under its reason: a skipped test proved
// nothing, and whoever reads the summary should see why it did not run. ava's TAP has no place
// for a reason, so tests put it in their title (`[skipped: why]`, __test__/helpers/skip.ts);
// pack-test.mjs writes it after `# SKIP`; cargo prints `ignored, why`.
//
// No part can hang the run: each runs in a process group of its own, and one that prints nothing
// (stdout or stderr) for ZEROSEND_TEST_SILENCE_MINUTES (default 10; ava's own timeout is 3) is
// killed, group and all, and fails the run. Whatever a part leaves running after it exits is
// killed too, so that it cannot hold the output pipe open. (A test file whose process outlives
// its tests is ended, and named in the summary, by __test__/helpers/lingering-handles.mjs.)
import { spawn } from 'node:child_process';

const SILENCE_MS = Number(process.env.ZEROSEND_TEST_SILENCE_MINUTES ?? 10) * 60_000;

/** The process group of the part running now, killed with this script on Ctrl-C. */
let runningGroup;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killGroup(runningGroup);
    process.exit(130);
  });
}

function killGroup(pid) {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, 'SIGKILL');
    return true;
  } catch {
    return false; // ESRCH: nothing of the group is left
  }
}

const run = (command, args, parse, env = process.env) =>
  new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
    runningGroup = child.pid;
    let out = '';
    let lastOutput = Date.now();
    let stalled = false;
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      out += chunk;
      lastOutput = Date.now();
    });
    // Passed through as it comes, and counted as a sign of life (cargo compiles on stderr).
    let err = '';
    child.stderr.on('data', (chunk) => {
      process.stderr.write(chunk);
      err += chunk;
      lastOutput = Date.now();
    });
    const watchdog = setInterval(() => {
      if (Date.now() - lastOutput < SILENCE_MS) return;
      stalled = true;
      console.log(`\n# ${command} ${args.join(' ')}: no output for ${SILENCE_MS / 60_000} min; killed (counted as a failure)`);
      killGroup(child.pid);
    }, 5_000);
    child.on('exit', () => {
      if (killGroup(child.pid) && !stalled) console.log(`\n# ${command} ${args.join(' ')} left processes running; killed them`);
    });
    child.on('close', (code) => {
      clearInterval(watchdog);
      runningGroup = undefined;
      const parsed = parse(out);
      const lingering = [...err.matchAll(/^lingering: (.*)$/gm)].map((m) => m[1]);
      resolve({ code: stalled ? 1 : code, ...parsed, failed: parsed.failed + (stalled ? 1 : 0), lingering });
    });
  });

const sum = (text, pattern) => [...text.matchAll(pattern)].reduce((n, m) => n + Number(m[1]), 0);

/** `{ title, reason }` of each `ok N - title # SKIP [reason]` line of a TAP stream. */
function tapSkips(out) {
  return [...out.matchAll(/^ok \d+ - (.*?) # SKIP(?: (.*))?$/gm)].map(([, title, directive]) => {
    const inTitle = /^(.*) \[skipped: (.*)\]$/.exec(title);
    if (inTitle) return { title: inTitle[1], reason: inTitle[2] };
    return { title, reason: directive?.trim() || 'no reason given (declare it with __test__/helpers/skip.ts)' };
  });
}

const tap = (out) => ({
  passed: sum(out, /^# pass (\d+)/gm),
  failed: sum(out, /^# fail (\d+)/gm),
  // Reported, never counted as passed: a test that skipped itself proved nothing.
  skips: tapSkips(out),
});
const skipped = { code: 0, passed: 0, failed: 0, skipped: true };
const banner = (text) => console.log(`\n# ---- ${text}`);

const avaArgs = process.argv.slice(2);
const skip = (part) => process.env[`ZEROSEND_TEST_SKIP_${part}`] === '1';

let cargo = skipped;
if (!skip('CARGO')) {
  banner('cargo test');
  cargo = await run('cargo', ['test', '--workspace', '--release', '--color', 'never'], (out) => ({
    passed: sum(out, /test result: \w+\. (\d+) passed/g),
    failed: sum(out, /test result: \w+\. \d+ passed; (\d+) failed/g),
    skips: [...out.matchAll(/^test (\S+) \.\.\. ignored(?:, (.*))?$/gm)].map(([, title, reason]) => ({
      title,
      reason: reason ?? 'no reason given (#[ignore = "why"])',
    })),
  }));
}

// The native pass must not inherit a forced fallback from the caller's shell.
const { ZEROSEND_FORCE_FALLBACK: _ignored, ...nativeEnv } = process.env;
banner('ava, native binding');
const ava = await run('npx', ['ava', '--tap', ...avaArgs], tap, nativeEnv);

let fallback = skipped;
if (!skip('FALLBACK')) {
  banner('ava, stream fallback (ZEROSEND_FORCE_FALLBACK=1)');
  fallback = await run('npx', ['ava', '--tap', ...avaArgs], tap, { ...process.env, ZEROSEND_FORCE_FALLBACK: '1' });
}

let pack = skipped;
if (!skip('PACK') && avaArgs.length === 0) {
  banner('install as a user (scripts/pack-test.mjs)');
  pack = await run('node', ['scripts/pack-test.mjs'], tap);
}

const parts = { cargo, 'ava (native)': ava, 'ava (fallback)': fallback, pack };
const passed = Object.values(parts).reduce((n, p) => n + p.passed, 0);
let failed = Object.values(parts).reduce((n, p) => n + p.failed, 0);
// A runner that crashed before counting still fails the run.
if (failed === 0 && Object.values(parts).some((p) => p.code !== 0)) failed = 1;
printSkips(parts);
printLingering(parts);
console.log(
  '\n' +
    Object.entries(parts)
      .map(([name, p]) =>
        p.skipped
          ? `${name}: skipped`
          : `${name}: ${p.passed} passed, ${p.failed} failed${p.skips?.length ? `, ${p.skips.length} skipped` : ''}`,
      )
      .join('; '),
);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

/** Every skipped test of every part, grouped by part and reason. */
function printSkips(parts) {
  const total = Object.values(parts).reduce((n, p) => n + (p.skips?.length ?? 0), 0);
  if (total === 0) return;
  console.log(`\n# ---- ${total} skipped, and why`);
  for (const [name, part] of Object.entries(parts)) {
    const byReason = new Map();
    for (const skip of part.skips ?? []) byReason.set(skip.reason, [...(byReason.get(skip.reason) ?? []), skip]);
    for (const [reason, skips] of byReason) {
      console.log(`${name}, ${skips.length} skipped: ${reason}`);
      for (const { title } of skips) console.log(`    ${title}`);
    }
  }
}

/** Test files whose process outlived their tests (__test__/helpers/lingering-handles.mjs). */
function printLingering(parts) {
  const lines = Object.entries(parts).flatMap(([name, part]) => (part.lingering ?? []).map((line) => `${name}: ${line}`));
  if (lines.length === 0) return;
  console.log(`\n# ---- ${lines.length} test file(s) kept running after their tests, ended (a test left something open)`);
  for (const line of lines) console.log(`    ${line}`);
}
