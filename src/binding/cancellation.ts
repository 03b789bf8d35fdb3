/**
 * Cancels a native job when its signal aborts or one of its sockets closes, and remembers what
 * came first: the job's outcome then only says ABORT_ERR, and the reason decides how that is
 * reported (an AbortError, ERR_SOCKET_CLOSED, the progress callback's own exception...).
 */
import type { Socket } from 'node:net';

export type CancelReason = 'abort' | 'close' | 'progress';

export class Cancellation {
  /** What cancelled the job first, if anything did. */
  reason: CancelReason | undefined;
  private readonly onAbort = (): void => this.cancel('abort');
  private readonly onClose = (): void => this.cancel('close');

  constructor(
    private readonly job: { cancel(): void },
    private readonly signal: AbortSignal | undefined,
    private readonly sockets: ReadonlyArray<Socket | undefined>,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
    for (const socket of sockets) socket?.once('close', this.onClose);
  }

  cancel(reason: CancelReason): void {
    this.reason ??= reason;
    this.job.cancel();
  }

  /**
   * Stops listening, and cancels the job: a no-op once it has ended, but it also keeps the job
   * reachable until here — its native side cancels it when garbage-collected.
   */
  detach(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    for (const socket of this.sockets) socket?.off('close', this.onClose);
    this.job.cancel();
  }
}
