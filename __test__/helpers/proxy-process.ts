/**
 * A proxy in a process of its own, for tests that measure what proxied connections cost (CPU,
 * RSS, descriptors) without the test's own sockets in the numbers. Every connection accepted on
 * an ephemeral port is proxied with `proxy()` to 127.0.0.1:<argv[2]>; prints the port.
 *
 *   node --expose-gc --import tsx __test__/helpers/proxy-process.ts <upstream port>
 */
import * as net from 'node:net';

import { proxy } from '../../src';

const upstream = Number(process.argv[2]);
let ended = 0;
const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (a) => {
  const b = net.connect({ port: upstream, host: '127.0.0.1', allowHalfOpen: true });
  proxy(a, b)
    .catch(() => {})
    .finally(() => (ended += 1));
});
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`);
});
// Any line on stdin: collect garbage (with --expose-gc), then answer how many proxied connections
// have ended, so the test can wait for them and measure memory that is really held.
process.stdin.on('data', () => {
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write(`${ended}\n`);
});
