/** Real sockets, real files, and ways to read what arrived: the fixtures every test uses. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const KiB = 1024;
export const MiB = 1024 * 1024;

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const madeDirs: string[] = [];
// Each test file runs in its own process (workerThreads: false): its directories go when it
// exits. Without this every run of the suite left ~600 MB behind in the temp dir.
process.once('exit', () => {
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the OS temp dir, removed when this test process exits. */
export function tempDir(prefix = 'zerosend-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  madeDirs.push(dir);
  return dir;
}

/** A file of `size` random bytes; returns its path and contents. */
export function randomFile(size: number, dir = tempDir()): { path: string; data: Buffer } {
  const data = randomBytes(size);
  const path = join(dir, `random-${size}.bin`);
  writeFileSync(path, data);
  return { path, data };
}

export interface Pair {
  /** Our end: what a test hands to transfer(). */
  client: net.Socket;
  /** The peer's end. */
  server: net.Socket;
  close(): void;
}

/**
 * A connected pair of sockets over TCP loopback, or over a unix socket with `{ unix: true }`.
 * With `pauseOnConnect`, the peer never reads (libuv does not even start reading).
 */
export async function socketPair(options: { unix?: boolean; pauseOnConnect?: boolean } = {}): Promise<Pair> {
  const server = net.createServer({ pauseOnConnect: options.pauseOnConnect ?? false });
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  let client: net.Socket;
  if (options.unix) {
    const path = join(tempDir('zs-sock-'), 's.sock');
    await new Promise<void>((resolve) => server.listen(path, resolve));
    client = net.connect(path);
  } else {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  }
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const peer = await accepted;
  server.close();
  return {
    client,
    server: peer,
    close() {
      client.destroy();
      peer.destroy();
    },
  };
}

/** Everything the socket receives until it ends. */
export function collect(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/**
 * Whether new TCP sockets here are paced by TCP itself (BBR as congestion control): `auto` then
 * prefers mmap or copy to a loopback peer, sendfile otherwise. The system default, unless the
 * suite runs under bench/congestion-shim.c, which sets ZEROSEND_BENCH_CC on every TCP socket.
 */
export function loopbackTcpIsPaced(): boolean {
  try {
    const name =
      process.env.ZEROSEND_BENCH_CC ?? readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8');
    return name.startsWith('bbr');
  } catch {
    return false;
  }
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `value` after `ms`, on a timer that does not keep the process alive: the deadline side of a
 * `Promise.race`. A plain `delay` there holds the test file's process open until it fires, long
 * after the race was won (transfer-scale's 5 s deadline kept its process 3.6 s past its test).
 */
export const deadline = <T>(ms: number, value: T): Promise<T> => sleep(ms, value, { ref: false });
