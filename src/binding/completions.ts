/**
 * Where native jobs (parked transfers, relays, proxied connections) report: one channel per JS
 * environment, not a promise per job (each of those is a libuv handle, and libuv walks them all
 * on every wake-up: see crates/zerosend-node/src/completions.rs). Events are routed to their
 * job by id.
 */
import { native, type CompletionChannel, type NativeOutcome, type NativeProxyOutcome } from './load';

type Ended = NativeOutcome | NativeProxyOutcome;

/** A native job: `run()` starts it, reporting on `channel` as `id`. */
export interface ChannelJob {
  run(channel: CompletionChannel, id: number, reportProgress: boolean): void;
}

interface Waiter {
  resolve(outcome: Ended): void;
  onProgress: ((bytes: number) => void) | undefined;
}

const waiting = new Map<number, Waiter>();
let channel: CompletionChannel | undefined;
let lastId = 0;

/**
 * Runs a native job to its end. Resolves with its outcome, failures included (jobs never
 * reject); `onProgress(bytes)` hears at most once per 2 MiB. The job's class decides the
 * outcome's type (`NativeOutcome`, or `NativeProxyOutcome` for a proxy).
 */
export function runJob<T extends Ended>(job: ChannelJob, onProgress?: (bytes: number) => void): Promise<T> {
  if (!native) throw new Error('runJob() needs the native binding');
  const open = (channel ??= new native.CompletionChannel(deliver));
  const id = unusedId();
  return new Promise<T>((resolve) => {
    // The channel keeps Node alive exactly while some job runs.
    if (waiting.size === 0) open.keepAlive(true);
    waiting.set(id, { resolve: resolve as (outcome: Ended) => void, onProgress });
    try {
      job.run(open, id, onProgress !== undefined);
    } catch (error) {
      forget(id);
      throw error;
    }
  });
}

function deliver(id: number, bytes: number, outcome?: Ended | null): void {
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
