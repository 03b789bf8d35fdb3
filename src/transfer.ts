import * as fs from 'node:fs';
import { Socket } from 'node:net';

import { parseDestination, unsupported } from './destination';
import { AbortError } from './errors';
import { native } from './native';
import { runNative } from './native-transfer';
import {
  parseOptions,
  parseSource,
  type Destination,
  type FileSource,
  type TransferOptions,
  type TransferResult,
} from './options';
import { transferSocket, type SocketTransferOptions } from './socket-transfer';
import { runStream } from './stream-transfer';

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
  const settings = parseOptions(options);
  const src = parseSource(source);
  const target = parseDestination(destination);
  if (settings.signal?.aborted) throw new AbortError(0, settings.signal.reason);

  if (target.kind === 'stream') {
    if (settings.method !== 'auto') throw unsupported(settings.method, target.why);
    return runStream(src, target.stream, settings);
  }
  if (!native) {
    if (settings.method !== 'auto') throw unsupported(settings.method, 'the native binding is not available');
    const stream =
      target.kind === 'socket' ? target.socket : fs.createWriteStream('', { fd: target.fd, autoClose: false });
    return runStream(src, stream, settings);
  }
  return runNative(src, target, settings);
}
