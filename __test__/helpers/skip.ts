/**
 * Tests that cannot run here skip themselves and say why. ava's TAP output has no place for a
 * reason (`ok 3 - file › title # SKIP`), so a skipped test's title ends with `[skipped: why]`, and
 * scripts/test.mjs lists every skipped test with its reason in its closing summary. A test that
 * skips with no reason there was declared with a bare `test.skip`: don't.
 *
 *   const curl = spawnSync('curl', ['--version']).error ? 'curl is not installed' : null;
 *   testUnless(curl)('fetches with curl', async (t) => { ... });
 */
import test, { type SerialFn, type SkipFn } from 'ava';

/** How scripts/test.mjs finds the reason in a skipped test's title. */
export const skippedTitle = (title: string, reason: string): string => `${title} [skipped: ${reason}]`;

/** `test` when `reason` is null; else `test.skip`, with the reason in the title. */
export function testUnless(reason: string | null): SkipFn {
  return reason === null ? forward(test) : skipping(test.skip, reason);
}

/** The same for `test.serial`. */
export function serialUnless(reason: string | null): SkipFn {
  return reason === null ? forward(test.serial) : skipping(test.serial.skip, reason);
}

function skipping(declare: SkipFn, reason: string): SkipFn {
  return ((title: string, ...rest: unknown[]) =>
    (declare as (...a: unknown[]) => void)(skippedTitle(title, reason), ...rest)) as SkipFn;
}

/** A plain function that declares through ava's own (ava's chain objects are not ours to extend). */
function forward(declare: SerialFn | SkipFn): SkipFn {
  return ((...args: unknown[]) => (declare as (...a: unknown[]) => void)(...args)) as SkipFn;
}
