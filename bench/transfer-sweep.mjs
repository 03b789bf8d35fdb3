#!/usr/bin/env node
// The tuning sweep behind zerosend's constants: the raw loops (raw_send.rs, no Node) with each
// candidate per-call size, mmap window and MAP_POPULATE setting, copy buffer and splice pipe size,
// interleaved round by round on warm kept-alive connections; medians of --samples.
//
//   node bench/transfer-sweep.mjs                       # 64K,1M,64M,1G on loopback TCP, 7 samples
//   node bench/transfer-sweep.mjs --sizes=1M,64M --dest=unix --only=sendfile,copy --samples=9
import * as os from 'node:os';
import * as path from 'node:path';

import { parseFlags, parseSize } from './flags.mjs';
import {
  benchFile,
  buildRawSend,
  canPin,
  formatBytes,
  GiB,
  KiB,
  median,
  MiB,
  pinProcess,
  rawSendSession,
  startReceiver,
} from './transfer-measure.mjs';

const flags = parseFlags();
const sizes = (flags.sizes ?? '64K,1M,64M,1G').split(',').map(parseSize);
const samples = Number(flags.samples ?? 7);
const targetSecs = Number(flags.target ?? 0.4);
const destKind = flags.dest ?? 'tcp';
const pin = flags['no-pin'] !== 'true' && canPin();
const dir = flags.dir ?? path.join(os.tmpdir(), 'zerosend-bench');
const only = flags.only?.split(',');

/** Linux's per-call ceiling (MAX_RW_COUNT): "the whole step in one call". */
const WHOLE = 0x7ffff000;
const k = (n) => (n >= WHOLE ? 'whole' : formatBytes(n));
const configs = [
  ...[64 * KiB, 256 * KiB, 2 * MiB, WHOLE].map((call) => ({ method: 'sendfile', call, label: `sendfile call ${k(call)}` })),
  ...[64 * KiB, 256 * KiB, 1 * MiB].map((pipe) => ({
    method: 'splice',
    call: pipe,
    extra: ['--pipe', String(pipe)],
    label: `splice pipe ${k(pipe)}`,
  })),
  ...[
    [2 * MiB, true, 2 * MiB],
    [16 * MiB, true, 2 * MiB],
    [0, true, 2 * MiB],
    [2 * MiB, false, 2 * MiB],
    [16 * MiB, false, 2 * MiB],
    [0, false, 2 * MiB],
    [16 * MiB, true, 256 * KiB],
    [16 * MiB, true, 64 * KiB],
  ].map(([window, populate, call]) => ({
    method: 'mmap',
    call,
    extra: ['--window', String(window), ...(populate ? [] : ['--no-populate', '1'])],
    label: `mmap window ${window ? k(window) : 'file'}${populate ? ' POPULATE' : ''} call ${k(call)}`,
  })),
  ...[16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB].map((call) => ({ method: 'copy', call, label: `copy buffer ${k(call)}` })),
].filter((c) => !only || only.includes(c.method));

const rawSend = buildRawSend();
if (pin) pinProcess(process.pid, 0);
const receiver = await startReceiver(rawSend, pin ? 1 : undefined);
process.on('exit', () => receiver.stop());
console.log(
  `# raw-loop sweep: ${destKind === 'unix' ? 'unix socket' : 'loopback TCP'}, medians of ${samples}, ` +
    `${pin ? 'sender CPU 0 / receiver CPU 1' : 'no pinning'}, load ${os.loadavg()[0].toFixed(2)}`,
);

for (const size of sizes) {
  const file = benchFile(dir, size);
  const open = (config, repeat) =>
    rawSendSession(rawSend, {
      receiver,
      kind: destKind,
      file,
      method: config.method,
      call: config.call,
      repeat,
      extra: config.extra,
      cpu: pin ? 0 : undefined,
    });
  const runs = [];
  for (const config of configs) {
    let repeat = 1;
    if (size < 256 * MiB) {
      const probe = Math.max(1, Math.floor((8 * MiB) / size));
      const session = open(config, probe);
      await session.sample();
      const { secs } = await session.sample();
      session.close();
      repeat = Math.max(1, Math.round((targetSecs / secs) * probe));
    }
    runs.push({ config, session: open(config, repeat), list: [] });
  }
  for (let round = 0; round < samples; round++) {
    for (let i = 0; i < runs.length; i++) {
      const run = runs[(i + round) % runs.length];
      run.list.push(await run.session.sample());
    }
  }
  console.log(`\n## ${formatBytes(size)}\n`);
  console.log('| raw loop | GB/s | best | spread | sender CPU s/GiB | sender+receiver CPU s/GiB |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const { config, session, list } of runs) {
    session.close();
    const rates = list.map((s) => s.bytes / s.secs);
    const spread = (Math.max(...rates) - Math.min(...rates)) / median(rates);
    const perGiB = (f) => median(list.map((s) => f(s) / (s.bytes / GiB))).toFixed(2);
    console.log(
      `| ${config.label} | ${(median(rates) / 1e9).toFixed(2)} | ${(Math.max(...rates) / 1e9).toFixed(2)} | ${(spread * 100).toFixed(0)}% | ` +
        `${perGiB((s) => s.cpu)} | ${perGiB((s) => s.cpu + s.recvCpu)} |`,
    );
  }
}
receiver.stop();
process.exit(0);
