/** A transfer on the native side: sendfile, splice, mmap or copy on our own dups. */
import type { Socket } from 'node:net';

import { Cancellation, type CancelReason } from './cancellation';
import { descriptorOf, type Target } from './destination';
import { AbortError, socketClosed, ZerosendError } from './errors';
import { native, type NativeOutcome } from './native';
import { closedBecause } from './relay-failure';
import { claim } from './socket-gate';
import type { Settings, SourceSpec, TransferResult } from './options';
import { ProgressReporter } from './progress';

type NativeTarget = Exclude<Target, { kind: 'stream' }>;

/** Must be called synchronously by `transfer()`: the call is the line between earlier and later writes. */
export async function runNative(source: SourceSpec, target: NativeTarget, settings: Settings): Promise<TransferResult> {
  if (target.kind === 'fd') return runClaimed(source, target.fd, undefined, settings);
  const claimed = await claim(target.socket, settings.signal);
  try {
    const fd = descriptorOf(target.socket);
    if (fd < 0) throw socketClosed(0);
    return await runClaimed(source, fd, target.socket, settings);
  } finally {
    claimed.release();
  }
}

async function runClaimed(
  source: SourceSpec,
  destFd: number,
  socket: Socket | undefined,
  settings: Settings,
): Promise<TransferResult> {
  if (!native) throw new Error('runNative() needs the native binding');
  const { signal } = settings;
  if (signal?.aborted) throw new AbortError(0, signal.reason);

  const job = new native.NativeTransfer({
    path: source.kind === 'path' ? source.path : undefined,
    fd: source.kind === 'fd' ? source.fd : undefined,
    destFd,
    offset: settings.offset,
    length: settings.length,
    method: settings.method,
    prefix: settings.prefix,
    destIsSocket: socket !== undefined,
  });
  const cancellation = new Cancellation(job, signal, [socket]);
  const progress = new ProgressReporter(settings.onProgress, socket, () => cancellation.cancel('progress'));
  try {
    let outcome = job.runSync();
    progress.total = job.total;
    if (outcome === null) {
      outcome = await job.run(progress.wanted ? (bytes) => progress.report(bytes) : undefined);
    }
    return settle(outcome, progress, cancellation.reason, signal, socket);
  } finally {
    cancellation.detach();
  }
}

function settle(
  outcome: NativeOutcome,
  progress: ProgressReporter,
  cancelledBy: CancelReason | undefined,
  signal: AbortSignal | undefined,
  socket: Socket | undefined,
): TransferResult {
  const { bytes } = outcome;
  if (outcome.code === undefined) {
    progress.finish(bytes);
    return { bytes, method: outcome.method as TransferResult['method'] };
  }
  progress.stop();
  if (outcome.code === 'ABORT_ERR') {
    if (cancelledBy === 'progress') throw progress.error;
    if (cancelledBy === 'close' || socket?.destroyed) throw closedBecause([socket], bytes);
    throw new AbortError(bytes, signal?.reason);
  }
  throw new ZerosendError(outcome.code, outcome.message ?? outcome.code, {
    bytes,
    errno: outcome.errno === undefined ? undefined : -outcome.errno,
    syscall: outcome.syscall,
  });
}
