#!/usr/bin/env node
// How long `transfer()` holds the JS thread: the synchronous part of the call (the first step,
// which runs on the JS thread, see `first_step_bytes` in crates/zerosend-core/src/limits.rs), with
// the file in the page cache (warm) and evicted from it (cold: `dd iflag=nocache count=0`, i.e.
// posix_fadvise(DONTNEED), so no root is needed), alternating, to the benchmark's receiver over
// loopback TCP.
//
//   npm run build
//   node bench/first-step.mjs                                # 1 MiB files, mmap and sendfile, 24 of each
//   node bench/first-step.mjs --size=256K --methods=mmap,copy,sendfile,splice --n=48
//   options: --cc=NAME (TCP congestion control, e.g. cubic), --dir=DIR (files),
//            --dist=DIR (the build to load; default this repository's dist/)
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

import { applyCongestionFlag, congestionControl } from './congestion.mjs';
import { parseFlags, parseSize } from './flags.mjs';
import {
  benchFile,
  buildRawSend,
  connectReceiver,
  formatBytes,
  median,
  repoRoot,
  startReceiver,
} from './transfer-measure.mjs';

const flags = parseFlags();
applyCongestionFlag(flags);
const size = parseSize(flags.size ?? '1M');
const methods = (flags.methods ?? 'mmap,sendfile').split(',');
const perKind = Number(flags.n ?? 24);
const dist = path.resolve(flags.dist ?? path.join(repoRoot, 'dist'));
const dir = flags.dir ?? path.join(os.tmpdir(), 'zerosend-bench-first-step');

const { transfer } = await import(pathToFileURL(path.join(dist, 'index.js')).href);

// Several files, so that evicting one never evicts the file measured warm next.
const files = Array.from({ length: 8 }, (_, i) => benchFile(dir, size, i));
const evict = (file) => execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);

const receiver = await startReceiver(buildRawSend());
console.log(`# transfer()'s synchronous part, ${formatBytes(size)} files, ${perKind} cold and ${perKind} warm each, TCP ${congestionControl()} (ms)`);
console.log('| method | warm median | warm max | cold median | cold max |');
console.log('|---|---:|---:|---:|---:|');
try {
  for (const method of methods) {
    const count = perKind * 2;
    const conn = await connectReceiver(receiver, 'tcp', size * count);
    const times = { cold: [], warm: [] };
    for (let i = 0; i < count; i++) {
      const file = files[i % files.length];
      const kind = i % 2 === 0 ? 'cold' : 'warm';
      if (kind === 'cold') evict(file);
      const start = performance.now();
      const sent = transfer(file, conn.socket, { method });
      times[kind].push(performance.now() - start);
      await sent;
    }
    await conn.batchDelivered();
    conn.close();
    const cell = (values) => `${median(values).toFixed(3)} | ${Math.max(...values).toFixed(3)}`;
    console.log(`| ${method} | ${cell(times.warm)} | ${cell(times.cold)} |`);
  }
} finally {
  receiver.stop();
}
