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
import { type SkipFn } from 'ava';

import { capabilities } from '../../src';
import { fallbackReason } from '../../src/binding/load';
import { serialUnless, testUnless } from './skip';

/** Whether this process loaded the native binding. */
export const hasNative: boolean = capabilities().native;

/** Why a native-only test skips here (scripts/test.mjs prints it), or null where it runs. */
const skipReason = hasNative ? null : `needs the native binding; this process runs on Node streams (${fallbackReason})`;

/** `test` with the binding, `test.skip` (saying why) on the fallback; `.serial` likewise. */
export const nativeTest: SkipFn & { serial: SkipFn } = Object.assign(testUnless(skipReason), {
  serial: serialUnless(skipReason),
});

/** What `result.method` of a file → socket `transfer()` with method 'auto' is in this process. */
export const AUTO_FILE_METHODS = hasNative ? ['sendfile', 'splice', 'mmap', 'copy'] : ['stream'];
/** The same as a regular-expression alternation, for matching log lines. */
export const AUTO_FILE_METHOD_PATTERN = `(?:${AUTO_FILE_METHODS.join('|')})`;
