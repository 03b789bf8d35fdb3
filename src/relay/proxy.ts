/**
 * `proxy(a, b)`: relays two connected sockets into each other, both directions at once, over
 * splice(2) — each direction with its own pipe, the bytes never in JavaScript — or through Node
 * streams where splice cannot work (TLS, no native binding, no splice on this OS).
 */
import type { Socket } from 'node:net';
import { Socket as NetSocket } from 'node:net';
import type { TLSSocket } from 'node:tls';

import { descriptorOf } from '../socket/destination';
import { AbortError, codes, invalidArgType, socketClosed, ZerosendError } from '../errors';
import { runJob } from '../binding/completions';
import { native, type NativeProxyOutcome } from '../binding/load';
import { Cancellation } from '../binding/cancellation';
import { nativeFailure, streamFailure } from '../socket/failure';
import { claim, type Claim } from '../socket/write-gate';
import { TakenReading } from './socket-reading';
import { hasReadHandle, spliceBlocker, whenConnected } from './socket-transfer';
import { StreamRelay } from './stream-relay';

export interface ProxyOptions {
  /** Aborting destroys both sockets and rejects with an `AbortError` carrying both counts. */
  signal?: AbortSignal;
}

/** Bytes each way. */
export interface ProxyResult {
  /** Bytes that reached `b` from `a`. */
  aToB: number;
  /** Bytes that reached `a` from `b`. */
  bToA: number;
}

/** What `proxy()` rejects with: a Node-style error (`code`, `bytes` both ways together) that also
 * carries the count of each direction. */
export type ProxyError = (ZerosendError | AbortError) & ProxyResult;

/**
 * Relays `a` and `b` into each other until both have ended, then destroys both. An end on one
 * side is passed on as a half-close (`shutdown(SHUT_WR)`) of the other while the other direction
 * keeps flowing. Bytes Node had already read from either socket are delivered first.
 *
 * On Linux with TCP or unix sockets the bytes move with splice(2) and never enter JavaScript;
 * TLS sockets and platforms without splice fall back to Node stream piping, with backpressure.
 *
 * On an error on either side (`ECONNRESET`, `EPIPE`, a refused connect of a still-connecting
 * `b`...), an abort, or either socket destroyed, both sockets are destroyed and the promise
 * rejects with the code and both counts (`err.aToB`, `err.bToA`). It never throws synchronously.
 *
 * @example
 * net.createServer((client) => {
 *   const upstream = net.connect(8080, 'backend');
 *   proxy(client, upstream).catch((err) => console.log(err.code, err.aToB, err.bToA));
 * }).listen(80);
 */
export async function proxy(a: Socket, b: Socket, options?: ProxyOptions): Promise<ProxyResult> {
  const signal = parseProxyOptions(a, b, options);
  if (a.destroyed || b.destroyed) {
    a.destroy();
    b.destroy();
    throw withCounts(socketClosed(0), 0, 0);
  }
  if (signal?.aborted) throw withCounts(new AbortError(0, signal.reason), 0, 0);
  const errors = new SocketErrors(a, b);
  try {
    const viaSplice =
      spliceBlocker(a, { kind: 'socket', socket: b }) === undefined && !(b as TLSSocket).encrypted && hasReadHandle(b);
    if (viaSplice) return await proxyNatively(a, b, signal, errors);
    return await proxyThroughStreams(a, b, signal, errors);
  } finally {
    errors.detach();
  }
}

async function proxyNatively(a: Socket, b: Socket, signal: AbortSignal | undefined, errors: SocketErrors): Promise<ProxyResult> {
  // Synchronously, at the call: what each socket had queued goes first, Node reads no more.
  const claims = [claim(a, signal), claim(b, signal)];
  const readingA = TakenReading.take(a);
  const readingB = TakenReading.take(b);
  let releases: (() => void)[];
  try {
    releases = await allClaimed(claims);
    try {
      await whenConnected(a, signal);
      await whenConnected(b, signal);
      if (signal?.aborted) throw new AbortError(0, signal.reason);
    } catch (error) {
      for (const release of releases) release();
      throw error;
    }
  } catch (error) {
    a.destroy();
    b.destroy();
    throw withCounts(errors.first ?? error, 0, 0);
  }
  const aFd = descriptorOf(a);
  const bFd = descriptorOf(b);
  if (aFd < 0 || bFd < 0) {
    for (const release of releases) release();
    a.destroy();
    b.destroy();
    throw withCounts(errors.first ?? socketClosed(0), 0, 0);
  }

  const job = new native!.NativeProxy({
    aFd,
    bFd,
    aToBPrefix: readingA.buffered.length > 0 ? readingA.buffered : undefined,
    bToAPrefix: readingB.buffered.length > 0 ? readingB.buffered : undefined,
  });
  const cancellation = new Cancellation(job, signal, [a, b]);
  let ended;
  try {
    ended = await runJob<NativeProxyOutcome>(job);
  } finally {
    cancellation.detach();
    for (const release of releases) release();
  }
  // Both sides have ended both ways (or the proxy failed): nothing more can pass.
  a.destroy();
  b.destroy();
  const { aToB, bToA, outcome } = ended;
  if (outcome.code !== undefined) {
    throw withCounts(nativeFailure(outcome, aToB + bToA, cancellation.reason, signal, [a, b]), aToB, bToA);
  }
  return { aToB, bToA };
}

async function proxyThroughStreams(
  a: Socket,
  b: Socket,
  signal: AbortSignal | undefined,
  errors: SocketErrors,
): Promise<ProxyResult> {
  // Each side's end must reach the other as a half-close while the other direction goes on:
  // without allowHalfOpen Node would end a socket's writing as soon as its reading ended.
  a.allowHalfOpen = true;
  b.allowHalfOpen = true;
  const aToB = new StreamRelay(a, b, { end: true });
  const bToA = new StreamRelay(b, a, { end: true });
  const onAbort = (): void => {
    a.destroy();
    b.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.all([aToB.done, bToA.done]);
  } catch (error) {
    a.destroy();
    b.destroy();
    const bytes = aToB.bytes + bToA.bytes;
    const failure = signal?.aborted ? new AbortError(bytes, signal.reason) : streamFailure(errors.first ?? error, bytes);
    throw withCounts(failure, aToB.bytes, bToA.bytes);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  a.destroy();
  b.destroy();
  return { aToB: aToB.bytes, bToA: bToA.bytes };
}

/** Waits for every claim; if any fails, releases the others and rethrows the first failure. */
async function allClaimed(claims: Promise<Claim>[]): Promise<(() => void)[]> {
  const settled = await Promise.allSettled(claims);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const releases = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.release] : []));
  if (failed) {
    for (const release of releases) release();
    throw failed.reason;
  }
  return releases;
}

/**
 * The first 'error' either socket emits while proxied (a refused connect, a reset seen by Node):
 * it becomes the rejection, and listening keeps it from being an uncaught exception.
 */
class SocketErrors {
  first: Error | undefined;
  private readonly onError = (error: Error): void => {
    this.first ??= streamFailure(error, 0);
  };

  constructor(private readonly a: Socket, private readonly b: Socket) {
    a.on('error', this.onError);
    b.on('error', this.onError);
  }

  detach(): void {
    this.a.off('error', this.onError);
    this.b.off('error', this.onError);
  }
}

function withCounts(error: unknown, aToB: number, bToA: number): ProxyError {
  const failure = (error instanceof ZerosendError || error instanceof AbortError ? error : streamFailure(error, 0)) as ProxyError;
  failure.bytes = aToB + bToA;
  failure.aToB = aToB;
  failure.bToA = bToA;
  return failure;
}

function parseProxyOptions(a: unknown, b: unknown, options: unknown): AbortSignal | undefined {
  if (!(a instanceof NetSocket)) throw invalidArgType('a', 'an instance of net.Socket', a);
  if (!(b instanceof NetSocket)) throw invalidArgType('b', 'an instance of net.Socket', b);
  if (a === b) throw new ZerosendError(codes.invalidArgValue, 'The "a" and "b" arguments must be two different sockets');
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const { signal } = options as { signal?: unknown };
  if (signal === undefined) return undefined;
  if (typeof signal !== 'object' || signal === null || typeof (signal as AbortSignal).aborted !== 'boolean') {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  }
  return signal as AbortSignal;
}
