/**
 * Loads the native binding for this platform, or nothing.
 *
 * The generated loader (`native/binding.js`, a napi-rs build artifact) looks for a local build
 * first (`native/zerosend.<platform>.node`, what `npm run build:native` writes), then the
 * platform's optional dependency (`zerosend-<platform>`, e.g. `zerosend-linux-x64-gnu`). When
 * neither loads — no binary for this platform (Windows), optional dependencies omitted, a binary
 * that needs a newer libc — zerosend still works: every transfer goes through Node streams,
 * `capabilities().native` is `false`, and one warning per process says why.
 *
 * Environment:
 * - `ZEROSEND_FORCE_FALLBACK=1` skips the binding (the stream fallback, on purpose: no warning).
 * - `ZEROSEND_SILENCE_FALLBACK_WARNING=1` keeps the fallback quiet.
 */
import type * as Binding from '../../native/binding';

export type { CompletionChannel, NativeOutcome, NativeProxyOutcome, NativeTransfer } from '../../native/binding';

/** Shared by every copy of zerosend in the process (two versions in one node_modules tree). */
const WARNED = Symbol.for('zerosend.fallbackWarned');

/** Why the binding is not in use, or `null` when it is. For diagnostics and the warning. */
export let fallbackReason: string | null = null;

function load(): typeof Binding | null {
  if (process.env.ZEROSEND_FORCE_FALLBACK === '1') {
    fallbackReason = 'ZEROSEND_FORCE_FALLBACK=1';
    return null;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const binding = require('../../native/binding.js') as typeof Binding;
    // A stale local build from another version of the Rust side: refuse it rather than crash later.
    const expected = [binding.startTransfer, binding.CompletionChannel, binding.nativeCapabilities, binding.statVersion, binding.watchPath];
    if (expected.some((exported) => typeof exported !== 'function')) {
      throw new Error('the loaded binary does not match this version of zerosend (rebuild it: npm run build:native)');
    }
    return binding;
  } catch (error) {
    fallbackReason = describeLoadFailure(error);
    warnOnce(fallbackReason);
    return null;
  }
}

/**
 * The napi loader throws "Cannot find native binding" with every attempt chained in `cause`. A
 * binary that was found but failed (wrong libc, corrupt file) matters more than the attempts that
 * merely found nothing, so those messages come first.
 */
function describeLoadFailure(error: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = error; e != null && messages.length < 16; e = (e as { cause?: unknown }).cause) {
    messages.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  const loadFailures = messages.filter(
    (m) => !m.startsWith('Cannot find module') && !m.startsWith('Cannot find native binding'),
  );
  if (loadFailures.length > 0) return `the binary failed to load: ${loadFailures.join('; ')}`;
  return (
    `no binary for ${process.platform}-${process.arch} is installed ` +
    `(optional dependencies omitted, or no prebuilt binary for this platform)`
  );
}

function warnOnce(reason: string): void {
  if (process.env.ZEROSEND_SILENCE_FALLBACK_WARNING === '1') return;
  const flags = globalThis as { [WARNED]?: boolean };
  if (flags[WARNED]) return;
  flags[WARNED] = true;
  process.emitWarning(
    `zerosend: native binding not loaded (${reason}); transfers go through Node streams ` +
      `(no zero-copy). Set ZEROSEND_SILENCE_FALLBACK_WARNING=1 to hide this.`,
    { code: 'ZEROSEND_FALLBACK' },
  );
}

/** The binding, or `null` when this process runs on the stream fallback. */
export const native: typeof Binding | null = load();
