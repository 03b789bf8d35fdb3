/**
 * Where parked native transfers report: one channel per JS environment, not a promise per
 * transfer (each of those is a libuv handle, and libuv walks them all on every wake-up: see
 * crates/zerosend-node/src/completions.rs). Events are routed to their transfer by id.
 */
import { native, type CompletionChannel, type NativeOutcome, type NativeTransfer } from './native';

interface Waiter {
  resolve(outcome: NativeOutcome): void;
  onProgress: ((bytes: number) => void) | undefined;
}

const waiting = new Map<number, Waiter>();
let channel: CompletionChannel | undefined;
let lastId = 0;

/**
 * Drives a transfer `startTransfer()` parked to its end. Resolves with its outcome, failures
 * included; `onProgress(bytes)` hears at most once per 2 MiB.
 */
export function runParked(job: NativeTransfer, onProgress?: (bytes: number) => void): Promise<NativeOutcome> {
  if (!native) throw new Error('runParked() needs the native binding');
  const open = (channel ??= new native.CompletionChannel(deliver));
  const id = unusedId();
  return new Promise<NativeOutcome>((resolve) => {
    // The channel keeps Node alive exactly while some transfer is parked.
    if (waiting.size === 0) open.keepAlive(true);
    waiting.set(id, { resolve, onProgress });
    try {
      job.run(open, id, onProgress !== undefined);
    } catch (error) {
      forget(id);
      throw error;
    }
  });
}

function deliver(id: number, bytes: number, outcome?: NativeOutcome | null): void {
  const waiter = waiting.get(id);
  if (waiter === undefined) return;
  if (outcome == null) {
    waiter.onProgress?.(bytes);
    return;
  }
  forget(id);
  waiter.resolve(outcome);
}

function forget(id: number): void {
  waiting.delete(id);
  if (waiting.size === 0) channel?.keepAlive(false);
}

/** Ids are 32-bit and wrap; one still waiting is never reused. */
function unusedId(): number {
  do lastId = (lastId + 1) >>> 0;
  while (waiting.has(lastId));
  return lastId;
}
