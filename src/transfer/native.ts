/** A transfer on the native side: sendfile, splice, mmap or copy on our own dups. */
import type { Socket } from 'node:net';

import { Cancellation, type CancelReason } from '../binding/cancellation';
import { runJob } from '../binding/completions';
import { descriptorOf, type NativeTarget } from '../socket/destination';
import { AbortError, socketClosed, ZerosendError } from '../errors';
import { native, type NativeOutcome, type NativeTransfer } from '../binding/load';
import { closedBecause } from '../socket/failure';
import { claim, claimIdle, isIdle } from '../socket/write-gate';
import { METHODS, type TransferResult } from '../options';
import type { Settings, SourceSpec } from './settings';
import { ProgressReporter } from './progress';

/**
 * `startTransfer()` takes and reports a method as its index in `METHODS` (or `AUTO_FOR_SERVER`);
 * a transfer that finished at once comes back as the number `bytes * METHOD_CODE_SPAN + index`.
 */
const METHOD_CODE_SPAN = 8;
const AUTO_FOR_SERVER = METHODS.length;

type Started = ReturnType<NonNullable<typeof native>['startTransfer']>;

/** Must be called synchronously by `transfer()`: the call is the line between earlier and later writes. */
export async function runNative(source: SourceSpec, target: NativeTarget, settings: Settings): Promise<TransferResult> {
  if (target.kind === 'fd') return finish(start(source, target.fd, undefined, settings), undefined, settings);
  const { socket } = target;
  if (isIdle(socket)) {
    // Nothing written before this call is still queued and no transfer holds the socket: the
    // first attempt goes now, and the socket's writes are held only if the transfer must park.
    const started = start(source, descriptorOf(socket), socket, settings);
    if (!isParked(started)) return finish(started, socket, settings);
    const claimed = claimIdle(socket);
    try {
      return await finish(started, socket, settings);
    } finally {
      claimed.release();
    }
  }
  const claimed = await claim(socket, settings.signal);
  try {
    const fd = descriptorOf(socket);
    if (fd < 0) throw socketClosed(0);
    return await finish(start(source, fd, socket, settings), socket, settings);
  } finally {
    claimed.release();
  }
}

/**
 * Opens the source and makes the first attempt, on this thread: a small file is done here. An
 * aborted signal was already refused, with nothing awaited since: by `transfer()`, or by `claim()`.
 */
function start(source: SourceSpec, destFd: number, socket: Socket | undefined, settings: Settings): Started {
  if (!native) throw new Error('runNative() needs the native binding');
  return native.startTransfer(
    source.kind === 'path' ? source.path : null,
    source.kind === 'fd' ? source.fd : -1,
    destFd,
    settings.offset,
    settings.length ?? -1,
    settings.method === 'auto' && settings.forServer ? AUTO_FOR_SERVER : METHODS.indexOf(settings.method),
    settings.prefix ?? null,
    socket !== undefined,
  );
}

function isParked(started: Started): started is NativeTransfer {
  return native !== null && started instanceof native.NativeTransfer;
}

function finish(started: Started, socket: Socket | undefined, settings: Settings): Promise<TransferResult> | TransferResult {
  if (isParked(started)) return drive(started, socket, settings);
  const progress = new ProgressReporter(settings.onProgress, socket, () => {});
  if (typeof started !== 'number') return settle(started, progress, undefined, undefined, socket);
  const bytes = Math.floor(started / METHOD_CODE_SPAN);
  progress.total = bytes;
  progress.finish(bytes);
  return { bytes, method: METHODS[started % METHOD_CODE_SPAN] as TransferResult['method'] };
}

/** The rest of a transfer whose destination filled up: parked on epoll off the JS thread. */
async function drive(job: NativeTransfer, socket: Socket | undefined, settings: Settings): Promise<TransferResult> {
  const { signal } = settings;
  const cancellation = new Cancellation(job, signal, [socket]);
  const progress = new ProgressReporter(settings.onProgress, socket, () => cancellation.cancel('progress'), job.total);
  try {
    const outcome = await runJob<NativeOutcome>(job, progress.wanted ? (bytes) => progress.report(bytes) : undefined);
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
