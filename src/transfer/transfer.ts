import * as fs from 'node:fs';
import { Socket } from 'node:net';

import type { Writable } from 'node:stream';

import { parseDestination, unsupported, type NativeTarget, type Target } from '../socket/destination';
import { AbortError } from '../errors';
import { native } from '../binding/load';
import { runNative } from './native';
import type { Destination, FileSource, Method, TransferOptions, TransferResult } from '../options';
import { parseOptions, parseSource } from './settings';
import { transferSocket, type SocketTransferOptions } from '../relay/socket-transfer';
import { runStream } from './stream';

/**
 * Sends a file (or a slice of it) to a socket or descriptor without the bytes passing through
 * JavaScript: sendfile(2), splice(2), mmap-send or a copy, chosen by `options.method`.
 *
 * Bytes written to a socket before the call arrive before the file; writes made while it runs
 * arrive after. Every failure is a rejection with a Node-style `code` (and `bytes` sent so far).
 *
 * @example
 * const { bytes, method } = await transfer('./big.iso', socket, { signal: AbortSignal.timeout(60_000) })
 */
export function transfer(source: FileSource, destination: Destination, options?: TransferOptions): Promise<TransferResult>;
/**
 * Relays everything a socket receives to a destination until the socket's peer ends, then (with
 * `end`, the default) half-closes the destination. On Linux the bytes move socket → pipe → socket
 * with splice(2) (`method: 'splice'`); TLS sockets and other platforms use Node streams
 * (`method: 'stream'`). Bytes Node had already read from the source are delivered first.
 * On failure or abort both sockets are destroyed (bytes in flight cannot be given back).
 *
 * @example
 * const { bytes } = await transfer(upload, backend, { end: true })
 */
export function transfer(source: Socket, destination: Destination, options?: SocketTransferOptions): Promise<TransferResult>;
export async function transfer(
  source: FileSource | Socket,
  destination: Destination,
  options?: TransferOptions | SocketTransferOptions,
): Promise<TransferResult> {
  if (source instanceof Socket) return transferSocket(source, destination, options as SocketTransferOptions | undefined);
  // 1. Validate everything before anything runs.
  const settings = parseOptions(options);
  const src = parseSource(source);
  const target = parseDestination(destination);
  if (settings.signal?.aborted) throw new AbortError(0, settings.signal.reason);
  // 2. Pick the route, 3. run it; each route reports its own result and errors.
  const route = chooseRoute(target, settings.method);
  if (route.kind === 'stream') return runStream(src, route.stream, settings);
  return runNative(src, route, settings);
}

type Route = NativeTarget | { kind: 'stream'; stream: Writable };

/**
 * The native side wherever a descriptor can take the bytes and the binding loaded; else Node
 * streams, which only `auto` may fall back to: an explicit method is a promise we cannot keep.
 */
function chooseRoute(target: Target, method: Method): Route {
  if (target.kind !== 'stream' && native) return target;
  const why = target.kind === 'stream' ? target.why : 'the native binding is not available';
  if (method !== 'auto') throw unsupported(method, why);
  if (target.kind === 'stream') return target;
  if (target.kind === 'socket') return { kind: 'stream', stream: target.socket };
  return { kind: 'stream', stream: fs.createWriteStream('', { fd: target.fd, autoClose: false }) };
}
