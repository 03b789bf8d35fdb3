/**
 * What a destination is: a socket the native side can write to, a raw descriptor, or a stream.
 */
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';

import { codes, invalidArgType, socketClosed, ZerosendError } from '../errors';
import { parseFd } from '../options';

export type Target =
  /** A Node socket whose descriptor the native side can write to. */
  | { kind: 'socket'; socket: Socket }
  /** A raw descriptor the caller owns. */
  | { kind: 'fd'; fd: number }
  /** Anything bytes can only reach through Node streams (TLS, non-socket streams). */
  | { kind: 'stream'; stream: Writable; why: string };

/** A destination the native side can write to. */
export type NativeTarget = Exclude<Target, { kind: 'stream' }>;

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
export function descriptorOf(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: HandleWithFd | null })._handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}

function hasDescriptor(socket: Socket): boolean {
  return descriptorOf(socket) >= 0;
}

export function unsupported(method: string, why: string): ZerosendError {
  return new ZerosendError(
    codes.unsupported,
    `method '${method}' cannot be used here: ${why}; use method 'auto' to fall back to Node streams`,
  );
}
