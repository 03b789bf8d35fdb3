/**
 * The static server under load, run as users run it (`zerosend serve` in its own process):
 * 64 parallel downloads of a 256 MiB file all hash exactly, and 200 clients that hang up
 * mid-download leave no descriptor open behind them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';

import test from 'ava';

import { descriptorCount, startServe } from './helpers/cli-process';
import { MiB, delay, tempDir } from './helpers/net';

/**
 * A 256 MiB file written once: one random MiB repeated, each copy stamped with its index, so
 * that a byte out of place anywhere changes the hash. Returns the expected sha256.
 */
function makeBigFile(path: string, mebibytes: number): string {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < mebibytes; i++) {
      block.writeUInt32BE(i, 0);
      block.writeUInt32BE(i, MiB - 4);
      writeSync(fd, block);
      hash.update(block);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** GETs `url` and hashes the body as it streams in (64 bodies of 256 MiB never sit in memory). */
function downloadHash(agent: http.Agent, url: string): Promise<{ status: number; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        const hash = createHash('sha256');
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          hash.update(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

test.serial('64 parallel downloads of a 256 MiB file: every sha256 exact', async (t) => {
  t.timeout(15 * 60_000);
  const root = tempDir('zs-load-');
  const expected = makeBigFile(join(root, 'big.bin'), 256);
  const { cli, url } = await startServe(root, ['--quiet']);
  const agent = new http.Agent({ maxSockets: 64 });
  try {
    const results = await Promise.all(Array.from({ length: 64 }, () => downloadHash(agent, `${url}/big.bin`)));
    for (const result of results) {
      t.is(result.status, 200);
      t.is(result.bytes, 256 * MiB);
      t.is(result.sha256, expected);
    }
  } finally {
    agent.destroy();
    const { code } = await cli.stop();
    t.is(code, 0, 'graceful exit');
  }
});

test.serial('200 clients that hang up mid-download leave no descriptor open; the server keeps answering', async (t) => {
  t.timeout(5 * 60_000);
  const root = tempDir('zs-hangup-');
  mkdirSync(join(root, 'sub'));
  makeBigFile(join(root, 'big.bin'), 64);
  const { cli, port, url } = await startServe(root, ['--quiet']);
  try {
    // Warm up: the file is in the open-file cache and its path watched (from its second request,
    // with the process's one inotify descriptor), every lazily created handle exists.
    const agent = new http.Agent({ keepAlive: false });
    t.is((await downloadHash(agent, `${url}/big.bin`)).bytes, 64 * MiB);
    t.is((await downloadHash(agent, `${url}/big.bin`)).bytes, 64 * MiB);
    await delay(200);
    const baseline = descriptorCount(cli.pid);

    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        new Promise<void>((resolve) => {
          const socket = net.connect({ port, host: '127.0.0.1' });
          socket.on('error', () => {});
          socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
          let received = 0;
          socket.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received >= ((i % 8) + 1) * 128 * 1024) {
              if (i % 2 === 0) socket.destroy();
              else socket.resetAndDestroy();
              resolve();
            }
          });
        }),
      ),
    );

    // The server notices each hang-up when its socket errors or closes; wait for it to settle.
    let count = descriptorCount(cli.pid);
    for (let waited = 0; count > baseline && waited < 30_000; waited += 100) {
      await delay(100);
      count = descriptorCount(cli.pid);
    }
    t.is(count, baseline, `descriptors: ${count} now, ${baseline} before the 200 clients`);
    const after = await downloadHash(agent, `${url}/big.bin`);
    t.is(after.status, 200);
    t.is(after.bytes, 64 * MiB);
  } finally {
    await cli.stop();
  }
});
