/**
 * A folder of 5 000 files through `zerosend serve`: the listing arrives within a second, as HTML
 * and as JSON. In a file of its own, so that no sibling test competes with it for this machine's
 * two cores; the one timing assertion in the CLI tests, with a generous bound.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import test from 'ava';

import { ensureBuilt, startServe } from './helpers/cli-process';
import { tempDir } from './helpers/net';
import { curl } from './helpers/static-site';

test.before(async () => {
  await ensureBuilt();
});

test('5 000 entries: listed within a second (median of 3 after a warm-up), HTML and JSON', async (t) => {
  const root = tempDir('zs-listing-5000-');
  for (let i = 0; i < 5000; i++) writeFileSync(join(root, `file-${String(i).padStart(4, '0')}.txt`), `${i}\n`);
  const { cli, url } = await startServe(root);
  try {
    for (const accept of ['text/html', 'application/json']) {
      const fetchOnce = async (): Promise<{ seconds: number; body: Buffer }> => {
        const response = await curl('-H', `Accept: ${accept}`, '-w', '\n%{time_total}', `${url}/`);
        t.is(response.status, 200);
        return { seconds: Number(response.stdout.trim().split('\n').pop()), body: response.body };
      };
      const warm = await fetchOnce();
      if (accept === 'text/html') t.is(warm.body.toString('utf8').match(/<tr class="file">/g)?.length, 5000);
      else t.is((JSON.parse(warm.body.toString('utf8')) as unknown[]).length, 5000);
      const times: number[] = [];
      for (let i = 0; i < 3; i++) times.push((await fetchOnce()).seconds);
      const median = times.sort((a, b) => a - b)[1]!;
      t.log(`${accept}: ${(warm.body.length / 1024).toFixed(0)} KiB; curl time_total ${times.map((s) => `${(s * 1000).toFixed(1)} ms`).join(', ')}`);
      t.true(median < 1, `median ${median} s`);
    }
    // The server's own figures, from its access log (flushed on exit): until the body was handed to the kernel.
    await cli.stop();
    const served = [...cli.stdout.matchAll(/ GET \/ 200 \d+ ([\d.]+)ms none$/gm)].map((match) => `${match[1]} ms`);
    t.is(served.length, 8);
    t.log(`server (access log), HTML then JSON: ${served.join(', ')}`);
  } finally {
    await cli.stop();
  }
});
