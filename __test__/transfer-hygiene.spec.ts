/** Hygiene: nothing keeps Node alive, workers can be terminated, nothing leaks over 100 000 calls. */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';

import { transfer } from '../src';
import { nativeTest } from './helpers/native';
import { MiB, randomFile, socketPair, tempDir } from './helpers/net';

const run = promisify(execFile);
const fixture = (name: string) => join(__dirname, 'fixtures', name);

test('a process whose transfers are done exits by itself', async (t) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture('exits-by-itself.ts')], {
    timeout: 30_000,
  });
  t.is(stdout.trim(), 'AbortError');
});

test('a parked transfer keeps the process alive until it ends, even on a socket Node is not reading', async (t) => {
  const path = join(tempDir('zs-alive-'), 's.sock');
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    // Long enough for a process with nothing holding its event loop to have exited.
    setTimeout(() => {
      socket.resume();
      socket.on('data', (chunk: Buffer) => server.emit('bytes', chunk.length));
    }, 500);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  let received = 0;
  server.on('bytes', (n: number) => (received += n));
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture('parked-keeps-alive.ts'), path], {
      timeout: 30_000,
    });
    t.is(stdout.trim(), `sent ${16 * MiB}`);
    t.is(received, 16 * MiB);
  } finally {
    server.close();
  }
});

test('terminating a worker with a parked transfer does not crash the process', async (t) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture('terminate-worker.ts')], {
    timeout: 60_000,
  });
  t.is(stdout.trim(), 'ok');
});

nativeTest.serial('100 000 sequential small transfers leave RSS and descriptors flat', async (t) => {
  const file = randomFile(512);
  const pair = await socketPair();
  let received = 0;
  pair.server.on('data', (chunk: Buffer) => (received += chunk.length));
  const done = new Promise((resolve) => pair.server.once('end', resolve));
  const descriptors = (): number => readdirSync('/proc/self/fd').length;
  const round = async (n: number) => {
    for (let i = 0; i < n; i++) await transfer(file.path, pair.client);
  };
  await round(10_000); // warm-up: pools, JIT, allocator
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const fdsBefore = descriptors();
  await round(90_000);
  global.gc?.();
  const rssGrowth = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  t.log(`RSS growth over 90 000 transfers: ${rssGrowth.toFixed(1)} MiB; descriptors ${fdsBefore} → ${descriptors()}`);
  t.true(rssGrowth < 32, `RSS grew ${rssGrowth} MiB`);
  t.true(descriptors() <= fdsBefore, `descriptors ${fdsBefore} → ${descriptors()}`);
  pair.client.end();
  await done;
  t.is(received, 100_000 * 512);
  pair.close();
});
