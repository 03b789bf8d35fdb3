#!/usr/bin/env node
// The project's test command: the Rust core's tests, then the public API's ava suite, each with
// its own output, then one closing line `N passed, N failed` over both.
// Extra arguments go to ava (e.g. `npm test -- __test__/transfer.spec.ts`).
import { spawn } from 'node:child_process';

const run = (command, args, parse) =>
  new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      out += chunk;
    });
    child.on('close', (code) => resolve({ code, ...parse(out) }));
  });

const sum = (text, pattern) => [...text.matchAll(pattern)].reduce((n, m) => n + Number(m[1]), 0);

const skipCargo = process.env.ZEROSEND_TEST_SKIP_CARGO === '1';
const cargo = skipCargo
  ? { code: 0, passed: 0, failed: 0 }
  : await run('cargo', ['test', '--workspace', '--release', '--color', 'never'], (out) => ({
      passed: sum(out, /test result: \w+\. (\d+) passed/g),
      failed: sum(out, /test result: \w+\. \d+ passed; (\d+) failed/g),
    }));
const ava = await run('npx', ['ava', '--tap', ...process.argv.slice(2)], (out) => ({
  passed: sum(out, /^# pass (\d+)/gm),
  failed: sum(out, /^# fail (\d+)/gm),
}));

const passed = cargo.passed + ava.passed;
let failed = cargo.failed + ava.failed;
// A runner that crashed before counting still fails the run.
if (failed === 0 && (cargo.code !== 0 || ava.code !== 0)) failed = 1;
console.log(`\ncargo: ${cargo.passed} passed, ${cargo.failed} failed; ava: ${ava.passed} passed, ${ava.failed} failed`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
