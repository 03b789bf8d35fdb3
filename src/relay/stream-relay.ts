/**
 * One direction of a relay through Node streams: the fallback where splice cannot work (TLS
 * sockets, no native binding, platforms without splice). Backpressure (pause on a full
 * destination, resume on 'drain'), the end passed on as `end()`, and a count of the bytes whose
 * write completed.
 */
import type { Readable, Writable } from 'node:stream';

import { socketClosed } from '../errors';

export interface StreamRelayOptions {
  /** Call `dst.end()` as soon as `src` ends, and settle once it finished. Without it, settle
   * once every write has completed and leave `dst` open. */
  end: boolean;
  /** Bytes written before anything from `src` (counted as delivered once written). */
  prefix?: Uint8Array;
  /** How to write to `dst`; default `dst.write`. A transfer holding the socket's gate passes the
   * gate's own write, which goes past the writes the gate holds back. */
  write?: (chunk: Buffer, callback: (error?: Error | null) => void) => boolean;
  /** Hears the count of delivered bytes, at most once per 2 MiB. */
  onBytes?: (bytes: number) => void;
}

const PROGRESS_BYTES = 2 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/** A running one-way stream relay. */
export class StreamRelay {
  /** Bytes whose write to the destination completed. */
  bytes = 0;
  /** Settles when the source has ended and everything reached the destination (and it ended,
   * with `end`); rejects on the first error or premature close of either stream. */
  readonly done: Promise<void>;
  private reported = 0;
  private settled = false;
  private detach: () => void = () => {};

  constructor(
    private readonly src: Readable,
    private readonly dst: Writable,
    private readonly options: StreamRelayOptions,
  ) {
    this.done = new Promise<void>((resolve, reject) => this.start(resolve, reject));
  }

  private start(resolve: () => void, reject: (error: unknown) => void): void {
    const { src, dst, options } = this;
    const write = options.write ?? ((chunk, callback) => dst.write(chunk, callback));
    const settle = (error?: unknown): void => {
      if (this.settled) return;
      this.settled = true;
      this.detach();
      if (error === undefined) resolve();
      else reject(error);
    };
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, src.readableEncoding ?? 'utf8') : chunk;
      const ok = write(bytes, (error) => {
        if (error) return settle(error);
        this.delivered(bytes.length);
      });
      if (!ok) src.pause();
    };
    const onDrain = (): void => {
      src.resume();
    };
    const onEnd = (): void => {
      // Settle once every write has completed: the callback of end(), or of an empty write
      // queued behind all the others.
      if (options.end) dst.end(() => settle());
      else write(EMPTY, (error) => settle(error ?? undefined));
    };
    const onError = (error: Error): void => settle(error);
    const onSrcClose = (): void => {
      if (!src.readableEnded) settle(socketClosed(this.bytes));
    };
    const onDstClose = (): void => {
      if (!dst.writableFinished) settle(socketClosed(this.bytes));
    };
    src.on('data', onData);
    src.on('end', onEnd);
    src.on('error', onError);
    src.on('close', onSrcClose);
    dst.on('drain', onDrain);
    dst.on('error', onError);
    dst.on('close', onDstClose);
    this.detach = () => {
      src.off('data', onData);
      src.off('end', onEnd);
      src.off('error', onError);
      src.off('close', onSrcClose);
      dst.off('drain', onDrain);
      dst.off('error', onError);
      dst.off('close', onDstClose);
    };
    const { prefix } = options;
    if (prefix && prefix.length > 0) onData(Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength));
    if (src.readableEnded) onEnd();
    else if (src.destroyed) settle(socketClosed(0));
    else src.resume();
  }

  private delivered(length: number): void {
    this.bytes += length;
    if (this.options.onBytes && this.bytes - this.reported >= PROGRESS_BYTES) {
      this.reported = this.bytes;
      this.options.onBytes(this.bytes);
    }
  }
}

/** Ends `dst` and resolves once it has finished (rejects if it errors or closes first). */
export function endAndFinish(dst: Writable): Promise<void> {
  if (dst.writableFinished) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      dst.off('close', onClose);
      reject(error);
    };
    const onClose = (): void => {
      dst.off('error', onError);
      if (dst.writableFinished) resolve();
      else reject(socketClosed(0));
    };
    dst.once('error', onError);
    dst.once('close', onClose);
    dst.end(() => {
      dst.off('error', onError);
      dst.off('close', onClose);
      resolve();
    });
  });
}
