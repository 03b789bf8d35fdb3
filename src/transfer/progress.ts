import type { Socket } from 'node:net';

import type { TransferProgress } from '../options';

/**
 * Turns raw byte counts into the `onProgress` contract: `bytes` never decreases, nothing is
 * reported after the end, and the last report is `{ bytes: total, total }`. Also keeps the
 * socket's idle timer alive: bytes written natively do not refresh `socket.setTimeout()`.
 */
export class ProgressReporter {
  private last = -1;
  private done = false;
  /** An exception thrown by the user's callback: it ends the transfer and is what it rejects with. */
  error: unknown;

  constructor(
    private readonly onProgress: ((progress: TransferProgress) => void) | undefined,
    private readonly socket: Socket | undefined,
    private readonly onError: () => void,
    public total = 0,
  ) {}

  /** Whether anything needs to hear about progress while bytes move. */
  get wanted(): boolean {
    return this.onProgress !== undefined || (this.socket?.timeout ?? 0) > 0;
  }

  report(bytes: number): void {
    if (this.done || bytes <= this.last) return;
    this.last = bytes;
    (this.socket as { _unrefTimer?: () => void } | undefined)?._unrefTimer?.();
    if (!this.onProgress) return;
    try {
      this.onProgress({ bytes, total: this.total });
    } catch (error) {
      this.error ??= error;
      this.onError();
    }
  }

  /** The final report of a successful transfer. */
  finish(bytes: number): void {
    this.report(bytes);
    this.done = true;
  }

  /** No more reports: the transfer failed. */
  stop(): void {
    this.done = true;
  }
}
