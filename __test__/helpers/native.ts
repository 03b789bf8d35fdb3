/**
 * For tests that only make sense with the native binding (they assert a native method, or a
 * behaviour only the Rust engine has): they run as usual, and skip themselves — reported as
 * skipped, never as passed — when the process runs on the stream fallback, under
 * `ZEROSEND_FORCE_FALLBACK=1` (the suite's second pass in `npm test` and CI) or where no binary
 * loads.
 *
 *   import { nativeTest } from './helpers/native';
 *   nativeTest('sendfile to an O_APPEND file falls back to copy', async (t) => { ... });
 *   nativeTest.serial('...', async (t) => { ... });
 */
import test, { type SerialFn, type SkipFn } from 'ava';

import { capabilities } from '../../src';

/** Whether this process loaded the native binding. */
export const hasNative: boolean = capabilities().native;

/** `test` with the binding, `test.skip` on the fallback; `.serial` likewise. */
export const nativeTest: SkipFn & { serial: SkipFn } = Object.assign(
  forward(hasNative ? test : test.skip),
  { serial: forward(hasNative ? test.serial : test.serial.skip) },
);

/** A plain function that declares through ava's own (ava's chain objects are not ours to extend). */
function forward(declare: SerialFn | SkipFn): SkipFn {
  return ((...args: unknown[]) => (declare as (...a: unknown[]) => void)(...args)) as SkipFn;
}

/** What `result.method` of a file → socket `transfer()` with method 'auto' is in this process. */
export const AUTO_FILE_METHODS = hasNative ? ['sendfile', 'splice', 'mmap', 'copy'] : ['stream'];
/** The same as a regular-expression alternation, for matching log lines. */
export const AUTO_FILE_METHOD_PATTERN = `(?:${AUTO_FILE_METHODS.join('|')})`;
