/**
 * Sends a response's headers and a file range through `transfer()`, then leaves Node's
 * `ServerResponse` exactly as if it had written them itself.
 *
 * How Node's `_http_outgoing` is driven here:
 * - `res.writeHead()` only builds the header block into `res._header` (with `Date`, and
 *   `Connection: keep-alive`/`close` decided by Node); nothing is written yet.
 * - Those bytes become the transfer's `prefix`, so they share packets with the first file bytes.
 *   `res._headerSent = true` makes Node believe it wrote them: `res.end()` then sends nothing, and
 *   a socket error during the body no longer makes Node write a `400` into the stream.
 * - `Content-Length` is set, so Node frames nothing (no chunked encoding); `res.end()` with no data
 *   emits 'finish', and Node moves on to the next request of the keep-alive connection.
 * - If the transfer fails, the socket is destroyed: a client that left is gone anyway, and a file
 *   truncated mid-body must not leave a keep-alive stream out of step with its `Content-Length`.
 *
 * Responses this cannot take over safely — some other code replaced `res.write`/`res.end` (e.g.
 * `compression`), a `writeHead` hook changed the framing, or `res` is not an HTTP/1 response —
 * get the file piped through `res` instead, as any Node server would.
 */
import * as fs from 'node:fs';
import { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

import { codes } from '../errors';
import type { Method, TransferOptions, TransferResult } from '../options';
import { FOR_SERVER } from '../transfer/settings';
import { transfer } from '../transfer/transfer';

/**
 * How a response body went out: a `transfer()` method, `'memory'` for a small file answered from
 * the open-file cache's copy, or `'none'` for bodiless and generated answers.
 */
export type BodyMethod = TransferResult['method'] | 'memory' | 'none';

/** How the body went. */
export interface BodyOutcome {
  /** File bytes that reached the client. */
  bytes: number;
  method: BodyMethod;
  /** The error code when the body did not arrive whole; the connection was closed. */
  error?: string;
}

/** The undocumented fields of `OutgoingMessage` this module drives. */
interface OutgoingInternals {
  _header: string | null;
  _headerSent: boolean;
  _hasBody: boolean;
  chunkedEncoding: boolean;
}

const plainWrite = ServerResponse.prototype.write;
const plainEnd = ServerResponse.prototype.end;

/**
 * Sends status, headers (already set on `res`, `Content-Length` included) and `length` bytes of
 * `fd` from `offset` with `method` (TLS connections: streams, whatever `method` says). Never rejects:
 * failures close the connection and are reported in the outcome.
 */
export async function sendFileBody(
  res: ServerResponse,
  fd: number,
  offset: number,
  length: number,
  method: Method,
  signal?: AbortSignal,
): Promise<BodyOutcome> {
  const socket = res.socket ?? (await assignedSocket(res));
  if (socket === null || socket.destroyed) {
    res.destroy();
    return { bytes: 0, method: 'none', error: codes.socketClosed };
  }
  if (!canTakeOver(res, socket)) return pipeThroughResponse(res, fd, offset, length, signal);

  res.writeHead(res.statusCode);
  const outgoing = res as unknown as OutgoingInternals;
  if (!framedByContentLength(res, outgoing, length) || outgoing._header === null) {
    return pipeThroughResponse(res, fd, offset, length, signal);
  }
  const prefix = Buffer.from(outgoing._header, 'latin1');
  outgoing._headerSent = true;
  try {
    const encrypted = (socket as { encrypted?: boolean }).encrypted === true;
    const result = await transfer(fd, socket, {
      prefix,
      offset,
      length,
      method: encrypted ? 'auto' : method,
      signal,
      // A server's own core is what runs out: sendfile to clients on this machine too.
      [FOR_SERVER]: true,
    } as TransferOptions);
    res.end();
    return { bytes: result.bytes - prefix.length, method: result.method };
  } catch (error) {
    socket.destroy();
    const failure = error as { code?: string; bytes?: number };
    return {
      bytes: Math.max(0, (failure.bytes ?? 0) - prefix.length),
      method: 'none',
      error: failure.code ?? 'ERR_UNKNOWN',
    };
  }
}

/**
 * A response to a pipelined request waits for the ones before it: Node assigns it the socket
 * when they finish. Resolves null if the connection goes away first.
 */
function assignedSocket(res: ServerResponse): Promise<Socket | null> {
  const req = res.req;
  return new Promise((resolve) => {
    const done = (socket: Socket | null): void => {
      res.off('socket', done);
      res.off('close', onResponseClose);
      req?.off('close', onRequestClose);
      resolve(socket);
    };
    const onResponseClose = (): void => done(res.socket ?? null);
    // The request's 'close' also fires when it was merely read to the end; only a dead
    // connection (Node then destroys the queued requests with an error) means no socket will come.
    const onRequestClose = (): void => {
      if (req?.socket?.destroyed || req?.errored) done(res.socket ?? null);
    };
    res.once('socket', done);
    res.once('close', onResponseClose);
    req?.once('close', onRequestClose);
  });
}

function canTakeOver(res: ServerResponse, socket: Socket): boolean {
  return (
    res instanceof ServerResponse &&
    res.write === plainWrite &&
    res.end === plainEnd &&
    !res.headersSent &&
    // Node would count the bytes it wrote itself (none) against Content-Length and throw.
    !res.strictContentLength &&
    (socket as { _httpMessage?: unknown })._httpMessage === res
  );
}

function framedByContentLength(res: ServerResponse, outgoing: OutgoingInternals, length: number): boolean {
  return (
    outgoing._hasBody &&
    !outgoing.chunkedEncoding &&
    !res.hasHeader('transfer-encoding') &&
    Number(res.getHeader('content-length')) === length
  );
}

/**
 * The portable path: file bytes through `res.write()`. A file that ends early closes the
 * connection rather than ending a response shorter than its `Content-Length`.
 */
function pipeThroughResponse(
  res: ServerResponse,
  fd: number,
  offset: number,
  length: number,
  signal: AbortSignal | undefined,
): Promise<BodyOutcome> {
  return new Promise((resolve) => {
    if (length === 0) {
      res.end();
      resolve({ bytes: 0, method: 'stream' });
      return;
    }
    let bytes = 0;
    let settled = false;
    const input = fs.createReadStream('', { fd, start: offset, end: offset + length - 1, autoClose: false });
    const onAbort = (): void => finish('ABORT_ERR');
    const finish = (error?: string): void => {
      if (settled) return;
      settled = true;
      res.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (error !== undefined) {
        input.destroy();
        res.destroy();
      }
      resolve(error === undefined ? { bytes, method: 'stream' } : { bytes, method: 'none', error });
    };
    const onClose = (): void => finish(res.writableFinished ? undefined : codes.socketClosed);
    input.on('data', (chunk) => {
      bytes += chunk.length;
    });
    input.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? 'EIO'));
    input.on('end', () => {
      if (bytes < length) finish(codes.shortFile);
      else res.end(() => finish());
    });
    res.on('close', onClose);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    input.pipe(res, { end: false });
  });
}
