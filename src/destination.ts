/**
 * What a destination is, and how to hand a Node socket to the native side without reordering
 * bytes: Node's queued writes go first, writes made during the transfer wait (cork) until after.
 */
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';

import { AbortError, codes, invalidArgType, socketClosed, ZerosendError } from './errors';
import { parseFd } from './options';

export type Target =
  /** A Node socket whose descriptor the native side can write to. */
  | { kind: 'socket'; socket: Socket }
  /** A raw descriptor the caller owns. */
  | { kind: 'fd'; fd: number }
  /** Anything bytes can only reach through Node streams (TLS, non-socket streams). */
  | { kind: 'stream'; stream: Writable; why: string };

export function parseDestination(destination: unknown): Target {
  if (typeof destination === 'number') return { kind: 'fd', fd: parseFd('destination', destination) };
  if (destination instanceof Socket) {
    checkWritable(destination);
    if ((destination as TLSSocket).encrypted) {
      // Its descriptor carries ciphertext: writing the file there would bypass encryption.
      return { kind: 'stream', stream: destination, why: 'a TLS socket encrypts in JavaScript' };
    }
    if (!hasDescriptor(destination) && !destination.connecting) {
      return { kind: 'stream', stream: destination, why: 'this socket has no descriptor' };
    }
    return { kind: 'socket', socket: destination };
  }
  if (destination instanceof Writable) {
    checkWritable(destination);
    return { kind: 'stream', stream: destination, why: 'the destination is not a socket' };
  }
  throw invalidArgType('destination', 'a net.Socket, a file descriptor or a writable stream', destination);
}

function checkWritable(stream: Writable): void {
  if (stream.destroyed) throw socketClosed(0);
  if (stream.writableEnded) {
    throw new ZerosendError('ERR_STREAM_WRITE_AFTER_END', 'The destination has already been ended (write after end)');
  }
}

interface HandleWithFd {
  fd?: number;
}

/** `socket._handle.fd`: undocumented, but the only way to the descriptor (-1 on Windows). */
function descriptorOf(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: HandleWithFd | null })._handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}

function hasDescriptor(socket: Socket): boolean {
  return descriptorOf(socket) >= 0;
}

const EMPTY = Buffer.alloc(0);

/**
 * Waits until the socket is connected and every byte Node queued on it has reached the kernel,
 * then returns its descriptor. Rejects with ERR_SOCKET_CLOSED if it closes meanwhile.
 */
export async function takeDescriptor(socket: Socket, signal: AbortSignal | undefined): Promise<number> {
  if (socket.connecting) {
    await settleWhen(socket, signal, (done) => {
      socket.once('connect', done);
      return () => socket.off('connect', done);
    });
  }
  // A socket the user corked holds its writes in Node: release them, or they would never flush
  // and would then land after our bytes.
  while (socket.writableCorked > 0) socket.uncork();
  while (socket.writableLength > 0 && !socket.destroyed) {
    // An empty write completes after every write queued before it: a flush barrier.
    await settleWhen(socket, signal, (done) => {
      socket.write(EMPTY, () => done());
      return () => {};
    });
  }
  const fd = descriptorOf(socket);
  if (socket.destroyed || fd < 0) throw socketClosed(0);
  return fd;
}

/**
 * Resolves when `start` calls `done`; rejects if the socket closes or the signal aborts first.
 * `start` returns how to undo what it registered.
 */
function settleWhen(
  socket: Socket,
  signal: AbortSignal | undefined,
  start: (done: () => void) => () => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let undo = (): void => {};
    const finish = (error?: Error): void => {
      socket.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      undo();
      if (error) reject(error);
      else resolve();
    };
    const onClose = (): void => finish(socketClosed(0));
    const onAbort = (): void => finish(new AbortError(0, signal?.reason));
    socket.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    undo = start(() => finish());
  });
}

/** Marks the socket as carrying a native transfer: writes made meanwhile wait in Node. */
export function hold(socket: Socket): () => void {
  socket.cork();
  return () => {
    if (!socket.destroyed) socket.uncork();
  };
}

export function unsupported(method: string, why: string): ZerosendError {
  return new ZerosendError(
    codes.unsupported,
    `method '${method}' cannot be used here: ${why}; use method 'auto' to fall back to Node streams`,
  );
}
