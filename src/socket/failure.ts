/**
 * How a failure on a socket reaches the caller of a transfer or relay: the native outcome, a
 * socket closed under it, or a Node stream error, as a Node-style error with `code` and the bytes
 * that were delivered.
 */
import type { Socket } from 'node:net';

import { AbortError, socketClosed, ZerosendError } from '../errors';
import type { NativeOutcome } from '../../native/binding';
import type { CancelReason } from '../binding/cancellation';

/** The error for a failed native outcome; `bytes` is what reached the destination(s). */
export function nativeFailure(
  outcome: NativeOutcome,
  bytes: number,
  cancelledBy: CancelReason | undefined,
  signal: AbortSignal | undefined,
  sockets: (Socket | undefined)[],
): Error {
  if (outcome.code === 'ABORT_ERR') {
    if (cancelledBy === 'abort') return new AbortError(bytes, signal?.reason);
    return closedBecause(sockets, bytes);
  }
  const code = outcome.code ?? 'ERR_ZEROSEND_RELAY';
  return new ZerosendError(code, outcome.message ?? code, {
    bytes,
    errno: outcome.errno === undefined ? undefined : -outcome.errno,
    syscall: outcome.syscall,
  });
}

/**
 * A socket closed under a transfer or relay. If it was destroyed with an error (a reset Node's
 * reading side saw first, `socket.destroy(err)`), that error is the better answer than "closed".
 */
export function closedBecause(sockets: (Socket | undefined)[], bytes: number): Error {
  for (const socket of sockets) {
    const cause = socket?.errored as NodeJS.ErrnoException | null | undefined;
    if (typeof cause?.code === 'string') return streamFailure(cause, bytes);
  }
  return socketClosed(bytes);
}

/** A Node stream error (or our own) as the relay's error, with `bytes` delivered. */
export function streamFailure(error: unknown, bytes: number): Error {
  if (error instanceof ZerosendError || error instanceof AbortError) {
    error.bytes = bytes;
    return error;
  }
  const nodeError = error as NodeJS.ErrnoException;
  if (typeof nodeError?.code === 'string') {
    return new ZerosendError(nodeError.code, nodeError.message, {
      bytes,
      errno: nodeError.errno,
      syscall: nodeError.syscall,
      cause: error,
    });
  }
  return error instanceof Error ? error : new Error(String(error));
}
