/**
 * 2 000 idle proxied connections cost no CPU and little memory: each is parked on epoll (or on
 * libuv, on the stream fallback) and holds no pipe while nothing moves. The proxy runs in a
 * process of its own so that its CPU time, RSS and descriptors can be read from /proc.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import test from 'ava';

import { capabilities } from '../src';
import { delay } from './helpers/net';
import { listen } from './helpers/relay';

const COUNT = 2000;

/** The proxy process: we write its stdin and read its stdout; its stderr is ours. */
type Child = ChildProcessByStdio<Writable, Readable, null>;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

const descriptors = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** Reads the child's next stdout line. */
function nextLine(child: Child): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      child.stdout.off('data', onData);
      resolve(text.slice(0, newline));
    };
    child.stdout.on('data', onData);
  });
}

/** Asks the child to collect garbage; resolves with its count of ended connections. */
async function settled(child: Child): Promise<number> {
  child.stdin.write('gc\n');
  return Number(await nextLine(child));
}

/** Opens `count` connections through the proxy; each makes one round trip, then stays open. */
async function openIdle(port: number, count: number): Promise<net.Socket[]> {
  const clients: net.Socket[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, async () => {
      const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      client.on('error', () => {});
      await new Promise((resolve) => client.once('connect', resolve));
      client.write('ping');
      await new Promise((resolve) => client.once('data', resolve)); // the upstream's echo
      return client;
    });
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

test.serial(`${COUNT} idle proxied connections: no CPU, no pipes held, little memory`, async (t) => {
  const upstreamSockets: net.Socket[] = [];
  const upstream = await listen(
    (socket) => {
      upstreamSockets.push(socket);
      socket.on('error', () => {});
      socket.on('data', (chunk) => socket.write(chunk));
      socket.on('end', () => socket.end());
    },
    { allowHalfOpen: true },
  );
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(__dirname, 'helpers', 'proxy-process.ts'), String(upstream.port)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const port = Number(await nextLine(child));
    const pid = child.pid!;

    // Warm up (JIT, the runtime's threads, the pipe pool), then let those connections end.
    for (const client of await openIdle(port, 50)) client.destroy();
    while ((await settled(child)) < 50) await delay(50);
    const baseline = { rss: rssBytes(pid), fds: descriptors(pid) };

    const clients = await openIdle(port, COUNT);
    await delay(300);
    await settled(child);
    const loaded = { rss: rssBytes(pid), fds: descriptors(pid), cpu: cpuSeconds(pid) };
    const idleSeconds = 2;
    await delay(idleSeconds * 1000);
    const idleCpu = cpuSeconds(pid) - loaded.cpu;

    const perConnection = (loaded.rss - baseline.rss) / COUNT;
    t.log(
      `${COUNT} idle connections (${capabilities().splice ? 'splice' : 'Node streams'}): ` +
        `RSS ${(baseline.rss / 2 ** 20).toFixed(1)} MiB → ${(loaded.rss / 2 ** 20).toFixed(1)} MiB ` +
        `(+${(perConnection / 1024).toFixed(1)} KiB per connection, after a full GC), ` +
        `CPU while idle ${idleCpu.toFixed(2)} s in ${idleSeconds} s, ` +
        `descriptors ${baseline.fds} → ${loaded.fds}`,
    );
    // Each connection: its two sockets, plus our two dups on the native path; no pipes (a pipe
    // is two descriptors and goes back to the pool while its direction is idle; the pool keeps
    // at most 64).
    const perConnectionFds = capabilities().splice ? 4 : 2;
    t.true(loaded.fds - baseline.fds <= perConnectionFds * COUNT + 2 * 64, `${loaded.fds - baseline.fds} new descriptors`);
    t.true(idleCpu <= 0.2 * idleSeconds, `${idleCpu} CPU-s while idle`);
    t.true(perConnection < 64 * 1024, `${perConnection} bytes per connection`);

    // Closing the clients ends every proxied connection.
    for (const client of clients) client.end();
    while ((await settled(child)) < COUNT + 50) await delay(100);
    t.true(descriptors(pid) <= baseline.fds + 2 * 64);
  } finally {
    child.kill();
    for (const socket of upstreamSockets) socket.destroy();
    upstream.server.close();
  }
});
