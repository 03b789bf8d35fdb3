/**
 * Loads the native binding for this platform, or nothing. The generated loader
 * (`native/binding.js`, a build artifact) looks for a local build first, then the platform's
 * optional dependency. Without one, zerosend works through Node streams, and says so once.
 */
import type * as Binding from '../native/binding';

export type { NativeOutcome, NativeTransfer, TransferRequest } from '../native/binding';

function load(): typeof Binding | null {
  if (process.env.ZEROSEND_FORCE_FALLBACK === '1') return null;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('../native/binding.js') as typeof Binding;
  } catch (error) {
    if (process.env.ZEROSEND_SILENCE_FALLBACK_WARNING !== '1') {
      process.emitWarning(
        `zerosend: no native binding for ${process.platform}-${process.arch}; transfers go through ` +
          `Node streams (no zero-copy). Set ZEROSEND_SILENCE_FALLBACK_WARNING=1 to hide this.`,
        { code: 'ZEROSEND_FALLBACK', detail: error instanceof Error ? error.message : String(error) },
      );
    }
    return null;
  }
}

/** The binding, or `null` when this process runs on the stream fallback. */
export const native: typeof Binding | null = load();
