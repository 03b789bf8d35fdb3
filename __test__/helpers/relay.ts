/** Fixtures for the socket-relay tests: proxied connections, echo servers, descriptor counts. */
import { readdirSync, readFileSync } from 'node:fs';
import * as net from 'node:net';

import { native } from '../../src/binding/load';
import { socketPair, type Pair } from './net';

/** Open descriptors of this process, not counting the native pipe pool's idle pipes (two
 * descriptors each, kept on purpose for reuse). */
export function openDescriptors(): number {
  const pooled = typeof native?.nativeIdlePipes === 'function' ? native.nativeIdlePipes() : 0;
  return readdirSync('/proc/self/fd').length - 2 * pooled;
}

/** client ⇄ a   (proxied)   b ⇄ upstream: what a proxy in the middle sees. */
export interface Proxied {
  /** The user's end, talking to `a`. */
  client: net.Socket;
  /** The proxy's accepted socket. */
  a: net.Socket;
  /** The proxy's socket to the upstream. */
  b: net.Socket;
  /** The upstream server's end, talking to `b`. */
  upstream: net.Socket;
  close(): void;
}

export async function proxied(options: { unix?: boolean } = {}): Promise<Proxied> {
  const front: Pair = await socketPair(options);
  const back: Pair = await socketPair(options);
  return {
    client: front.client,
    a: front.server,
    b: back.client,
    upstream: back.server,
    close() {
      front.close();
      back.close();
    },
  };
}

/** Resolves when the socket has closed. */
export function closed(socket: net.Socket): Promise<void> {
  if (socket.destroyed && socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** A server that echoes every connection back and ends when the client ends. */
export async function echoServer(): Promise<{ port: number; close(): void }> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** A listening server whose accepted sockets are handed to `onConnection`; returns its port. */
export async function listen(
  onConnection: (socket: net.Socket) => void,
  options: net.ServerOpts = {},
): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer(options, onConnection);
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, resolve));
  return { port: (server.address() as net.AddressInfo).port, server };
}

/** Everything the socket receives until it ends, or until it closes or errors (no rejection). */
export function received(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = (): void => resolve(Buffer.concat(chunks));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', done);
    socket.once('close', done);
    socket.on('error', () => {});
  });
}

/**
 * A loopback port that refuses connections. Not one bound and closed again: such a port lies in
 * the ephemeral range, where a later connect can get it as its own source port and connect to
 * itself (TCP simultaneous open). A port below that range that refuses now stays refused.
 */
export async function refusingPort(): Promise<number> {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  for (;;) {
    const port = 1024 + Math.floor(Math.random() * (Math.max(low, 2048) - 1024));
    const refused = await new Promise<boolean>((resolve) => {
      const probe = net.connect(port, '127.0.0.1');
      probe.once('connect', () => {
        probe.destroy();
        resolve(false);
      });
      probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
    if (refused) return port;
  }
}
