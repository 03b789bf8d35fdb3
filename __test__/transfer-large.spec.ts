/** Offsets past 4 GiB and ranges past 2 GiB, in a sparse 5 GiB file. */
import { closeSync, openSync, writeSync, ftruncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';

import { transfer, type Method } from '../src';
import { nativeTest } from './helpers/native';
import { collect, MiB, socketPair, tempDir } from './helpers/net';

const GiB = 1024 * MiB;
const path = join(tempDir(), 'sparse-5g.bin');
const MARK_AT = 4 * GiB + 12_345;
const MARK = Buffer.from('marker past 4 GiB');
const TAIL = Buffer.from('last bytes');
{
  const fd = openSync(path, 'w');
  ftruncateSync(fd, 5 * GiB);
  writeSync(fd, MARK, 0, MARK.length, MARK_AT);
  writeSync(fd, TAIL, 0, TAIL.length, 5 * GiB - TAIL.length);
  closeSync(fd);
}
test.after.always(() => unlinkSync(path));

for (const method of ['sendfile', 'splice', 'mmap', 'copy', 'auto'] as Method[]) {
  (method === 'auto' ? test : nativeTest)(`${method}: a slice past 4 GiB`, async (t) => {
    const pair = await socketPair();
    const received = collect(pair.server);
    const offset = MARK_AT - 100;
    const result = await transfer(path, pair.client, { method, offset, length: MiB });
    pair.client.end();
    const got = await received;
    t.is(result.bytes, MiB);
    t.is(got.length, MiB);
    t.true(got.subarray(100, 100 + MARK.length).equals(MARK));
    t.true(got.subarray(0, 100).every((b) => b === 0));
    t.true(got.subarray(100 + MARK.length).every((b) => b === 0));
    pair.close();
  });
}

nativeTest('one transfer of 2.5 GiB up to the end of the file: more than one system call can take', async (t) => {
  const pair = await socketPair();
  let bytes = 0;
  let nonZero = Buffer.alloc(0);
  const zeros = Buffer.alloc(4 * MiB);
  pair.server.on('data', (chunk: Buffer) => {
    const start = bytes;
    bytes += chunk.length;
    if (chunk.length <= zeros.length && chunk.equals(zeros.subarray(0, chunk.length))) return;
    // Keep the non-zero bytes with their positions: only the marker and the tail should be there.
    for (let i = chunk.indexOf(0) === 0 ? chunk.findIndex((b) => b !== 0) : 0; i >= 0 && i < chunk.length; ) {
      const end = chunk.indexOf(0, i);
      const piece = chunk.subarray(i, end < 0 ? chunk.length : end);
      if (piece.length) nonZero = Buffer.concat([nonZero, Buffer.from(`@${start + i}:`), piece]);
      if (end < 0) break;
      const next = chunk.subarray(end).findIndex((b) => b !== 0);
      i = next < 0 ? -1 : end + next;
    }
  });
  const ended = new Promise((resolve) => pair.server.once('end', resolve));
  const offset = 5 * GiB - 2.5 * GiB;
  const result = await transfer(path, pair.client, { method: 'sendfile', offset });
  pair.client.end();
  await ended;
  t.is(result.bytes, 2.5 * GiB);
  t.is(bytes, 2.5 * GiB);
  t.is(
    nonZero.toString('latin1'),
    `@${MARK_AT - offset}:${MARK.toString()}@${2.5 * GiB - TAIL.length}:${TAIL.toString()}`,
  );
  pair.close();
});
