/**
 * `transfer(socket, destination)`: relays everything a socket receives to a destination until the
 * socket's peer ends, over splice(2) (socket → pipe → socket, never through JavaScript), or
 * through Node streams where splice cannot work (TLS, no native binding, no splice on this OS).
 */
import * as fs from 'node:fs';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';

import { capabilities } from '../binding/capabilities';
import { descriptorOf, parseDestination, unsupported, type Target } from '../socket/destination';
import { AbortError, codes, describe, invalidArgType, socketClosed, ZerosendError } from '../errors';
import { runJob } from '../binding/completions';
import { native, type NativeOutcome } from '../binding/load';
import { parseSharedOptions, type Destination, type TransferResult } from '../options';
import { Cancellation } from '../binding/cancellation';
import { nativeFailure, streamFailure } from '../socket/failure';
import { claim } from '../socket/write-gate';
import { TakenReading } from './socket-reading';
import { endAndFinish, StreamRelay } from './stream-relay';

export interface SocketTransferProgress {
  /** Bytes that reached the destination so far (prefix and JS-buffered bytes included). */
  bytes: number;
}

/** Options of `transfer()` when the source is a socket. */
export interface SocketTransferOptions {
  /** Half-close the destination (`shutdown(SHUT_WR)`, i.e. `end()`) once the source has ended.
   * Default `true`. */
  end?: boolean;
  /** Bytes sent before the first byte of the source. */
  prefix?: Uint8Array;
  /** `'auto'` (default): splice where possible, else Node streams. `'splice'`: splice or reject
   * with `ERR_ZEROSEND_UNSUPPORTED`. */
  method?: 'auto' | 'splice';
  /** Called with non-decreasing `bytes`, at most once per 2 MiB relayed, and once at the end. */
  onProgress?: (progress: SocketTransferProgress) => void;
  /** Aborting rejects with an `AbortError` carrying `bytes`, and destroys both sockets. */
  signal?: AbortSignal;
}

interface SocketSettings {
  end: boolean;
  prefix: Buffer;
  method: 'auto' | 'splice';
  onProgress: ((progress: SocketTransferProgress) => void) | undefined;
  signal: AbortSignal | undefined;
}

const EMPTY = Buffer.alloc(0);

/** Must be called synchronously by `transfer()`: the call is the moment Node stops reading. */
export async function transferSocket(
  src: Socket,
  destination: Destination,
  options: SocketTransferOptions | undefined,
): Promise<TransferResult> {
  const settings = parseSocketOptions(options);
  if (src.destroyed) throw socketClosed(0);
  const target = parseDestination(destination);
  const { signal } = settings;
  if (signal?.aborted) throw new AbortError(0, signal.reason);

  const blocker = spliceBlocker(src, target);
  if (blocker !== undefined) {
    if (settings.method === 'splice') throw unsupported('splice', blocker);
    return relayThroughStreams(src, streamOf(target), settings);
  }
  return relayNatively(src, target as SpliceTarget, settings);
}

type SpliceTarget = Exclude<Target, { kind: 'stream' }>;

/** Why splice cannot serve this pair, or `undefined` if it can. */
export function spliceBlocker(src: Socket, target: Target): string | undefined {
  if (typeof native?.NativeRelay !== 'function') return 'the native binding is not available';
  if (!capabilities().splice) return `splice(2) does not exist on ${process.platform}`;
  if ((src as TLSSocket).encrypted) return 'a TLS socket decrypts in JavaScript';
  if (target.kind === 'stream') return target.why;
  if (!hasReadHandle(src)) return 'the source socket has no descriptor';
  return undefined;
}

/** Whether libuv reads this socket through a handle we can stop (a TCP or unix socket). */
export function hasReadHandle(socket: Socket): boolean {
  const handle = (socket as unknown as { _handle?: { readStop?: unknown } | null })._handle;
  return typeof handle?.readStop === 'function';
}

async function relayNatively(src: Socket, target: SpliceTarget, settings: SocketSettings): Promise<TransferResult> {
  const { signal } = settings;
  const dst = target.kind === 'socket' ? target.socket : undefined;
  // Both synchronous, at the call: earlier writes to dst go first, and Node reads no more of src.
  const claimed = dst ? claim(dst, signal) : undefined;
  const reading = TakenReading.take(src);
  let release: () => void = () => {};
  let srcFd: number;
  let dstFd: number;
  try {
    if (claimed) release = (await claimed).release;
    try {
      await whenConnected(src, signal);
      srcFd = descriptorOf(src);
      dstFd = dst ? descriptorOf(dst) : (target as { fd: number }).fd;
      if (srcFd < 0 || dstFd < 0 || src.destroyed) throw socketClosed(0);
      if (signal?.aborted) throw new AbortError(0, signal.reason);
    } catch (error) {
      release();
      throw error;
    }
  } catch (error) {
    // Nothing moved: the socket is handed back exactly as it was.
    reading.restore();
    throw error;
  }

  const job = new native!.NativeRelay({
    srcFd,
    dstFd,
    prefix: joined(settings.prefix, reading.buffered),
    end: settings.end,
  });
  const cancellation = new Cancellation(job, signal, [src, dst]);
  const progress = new RelayProgress(settings.onProgress, [src, dst]);
  let outcome;
  try {
    outcome = await runJob<NativeOutcome>(job, progress.wanted ? (bytes) => progress.report(bytes) : undefined);
  } finally {
    cancellation.detach();
    release();
  }
  if (outcome.code !== undefined) {
    // Bytes may be lost in the relay's pipe: neither socket can be used on as if nothing happened.
    src.destroy();
    dst?.destroy();
    throw nativeFailure(outcome, outcome.bytes, cancellation.reason, signal, [src, dst]);
  }
  progress.report(outcome.bytes);
  // Node's view of both sockets catches up with what the kernel did: src reads its end, and dst
  // (already half-closed natively) is ended, so `writableEnded`/'finish' tell the truth.
  reading.giveBack();
  if (settings.end) dst?.end();
  return { bytes: outcome.bytes, method: 'splice' };
}

async function relayThroughStreams(src: Socket, dst: Writable, settings: SocketSettings): Promise<TransferResult> {
  const { signal } = settings;
  // Like the native path: earlier writes to dst go first, writes made meanwhile wait.
  const claimed = await claim(dst, signal);
  const progress = new RelayProgress(settings.onProgress, []);
  const relay = new StreamRelay(src, dst, {
    end: false, // the gate holds end() too: ended below, once it is released
    prefix: settings.prefix,
    write: claimed.write,
    onBytes: (bytes) => progress.report(bytes),
  });
  const onAbort = (): void => {
    src.destroy();
    dst.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await relay.done;
    claimed.release();
    if (settings.end) await endAndFinish(dst);
  } catch (error) {
    claimed.release();
    src.destroy();
    dst.destroy();
    if (signal?.aborted) throw new AbortError(relay.bytes, signal.reason);
    throw streamFailure(error, relay.bytes);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  progress.report(relay.bytes);
  return { bytes: relay.bytes, method: 'stream' };
}

function streamOf(target: Target): Writable {
  if (target.kind === 'stream') return target.stream;
  if (target.kind === 'socket') return target.socket;
  return fs.createWriteStream('', { fd: target.fd, autoClose: false });
}

/** Resolves once `socket` is connected; rejects with its error or ERR_SOCKET_CLOSED. */
export function whenConnected(socket: Socket, signal: AbortSignal | undefined): Promise<void> {
  if (!socket.connecting) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const finish = (error?: Error): void => {
      socket.off('connect', onConnect);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onConnect = (): void => finish();
    const onError = (error: Error): void => finish(streamFailure(error, 0));
    const onClose = (): void => finish(socketClosed(0));
    const onAbort = (): void => finish(new AbortError(0, signal?.reason));
    socket.once('connect', onConnect);
    socket.once('error', onError);
    socket.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function joined(a: Buffer, b: Buffer): Buffer | undefined {
  if (a.length === 0) return b.length === 0 ? undefined : b;
  return b.length === 0 ? a : Buffer.concat([a, b]);
}

/**
 * `onProgress` for relays: non-decreasing counts, and the sockets' idle timers refreshed — bytes
 * moved natively do not count as activity for `socket.setTimeout()`.
 */
class RelayProgress {
  private last = -1;

  constructor(
    private readonly onProgress: ((progress: SocketTransferProgress) => void) | undefined,
    private readonly sockets: (Socket | undefined)[],
  ) {}

  get wanted(): boolean {
    return this.onProgress !== undefined || this.sockets.some((s) => (s?.timeout ?? 0) > 0);
  }

  report(bytes: number): void {
    if (bytes <= this.last) return;
    this.last = bytes;
    for (const socket of this.sockets) (socket as { _unrefTimer?: () => void } | undefined)?._unrefTimer?.();
    this.onProgress?.({ bytes });
  }
}

function parseSocketOptions(options: unknown): SocketSettings {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const o = options as Record<string, unknown>;
  for (const name of ['offset', 'length'] as const) {
    if (o[name] !== undefined) {
      throw new ZerosendError(
        codes.invalidArgValue,
        `The property 'options.${name}' does not apply to a socket source, which has no offsets. ${describe(o[name])}`,
      );
    }
  }
  const method = o.method ?? 'auto';
  if (method === 'sendfile' || method === 'mmap' || method === 'copy') {
    throw unsupported(method, 'a socket source can only be relayed with splice or Node streams');
  }
  if (method !== 'auto' && method !== 'splice') {
    throw new ZerosendError(
      codes.invalidArgValue,
      `The property 'options.method' must be 'auto' or 'splice' for a socket source. ${describe(method)}`,
    );
  }
  if (o.end !== undefined && typeof o.end !== 'boolean') throw invalidArgType('options.end', 'of type boolean', o.end);
  const { prefix, onProgress, signal } = parseSharedOptions<SocketTransferProgress>(o);
  return {
    end: (o.end as boolean | undefined) ?? true,
    prefix: prefix ? Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength) : EMPTY,
    method,
    onProgress,
    signal,
  };
}
