/**
 * For the framework adapter tests (zerosend/fastify, zerosend/koa): a node:http client that keeps
 * connections alive, a client that hangs up after some body bytes, and a way to see whether the
 * server read a file through JavaScript.
 */
import * as net from 'node:net';

// The module object itself (not an import namespace, whose properties are read-only getters):
// what the library's `fs.createReadStream(...)` calls go through.
import fs = require('node:fs');

export { request, type Reply } from './static-site';

/**
 * `GET target` on a new raw connection; once at least `after` bytes (headers included) arrived,
 * the client closes (`reset`: with a TCP RST). Resolves with the bytes it had received.
 */
export function hangUpAfter(port: number, target: string, after: number, reset = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let received = 0;
    socket.on('error', () => {});
    socket.once('connect', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= after && !socket.destroyed) {
        if (reset) socket.resetAndDestroy();
        else socket.destroy();
        resolve(received);
      }
    });
    socket.once('close', () => (received < after ? reject(new Error(`the server closed after ${received} bytes`)) : undefined));
  });
}

/**
 * The calls that read a file into JavaScript (`fs.createReadStream`, `fs.read`, `fs.readSync`,
 * `fs.readFile`) are counted from the moment this module loads: import it before anything that
 * loads zerosend, which keeps references to some of them (`promisify(fs.read)`). The wrappers keep
 * the originals' symbol properties, so `util.promisify` treats them the same.
 */
let jsFileReads = 0;
{
  const target = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['createReadStream', 'read', 'readSync', 'readFile']) {
    const original = target[name]!;
    const counted = function (this: unknown, ...args: unknown[]) {
      jsFileReads += 1;
      return original.apply(this, args);
    };
    for (const symbol of Object.getOwnPropertySymbols(original)) {
      Object.defineProperty(counted, symbol, Object.getOwnPropertyDescriptor(original, symbol)!);
    }
    target[name] = counted;
  }
}

/**
 * How many reads of a file into JavaScript this process made while `run` ran: the stream fallback
 * makes them, a zero-copy body none. Run it in a serial test, so that no other test's reads count.
 */
export async function countJsFileReads(run: () => Promise<void>): Promise<number> {
  const before = jsFileReads;
  await run();
  return jsFileReads - before;
}

/** Resolves once `condition()` holds, polling; rejects after `ms`. */
export async function until(condition: () => boolean, ms = 10_000, what = 'the condition'): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited >= ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
