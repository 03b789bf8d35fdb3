/**
 * `zerosend send FILE HOST:PORT`, run as a user runs it: spawned, sending to a listener of the
 * test's own (a node `net` server that keeps what it receives: nothing to install, so it never
 * skips), with progress as plain lines (stdout is a pipe here) or a bar (under a pseudo-terminal
 * made by `script`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';

import test from 'ava';

import { CliProcess, cliPath, ensureBuilt } from './helpers/cli-process';
import { AUTO_FILE_METHOD_PATTERN, nativeTest } from './helpers/native';
import { MiB, tempDir } from './helpers/net';
import { testUnless } from './helpers/skip';

const noScript =
  spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0 ? null : '`script` (util-linux) is not installed';
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

const dir = tempDir('zs-send-');
const file = join(dir, 'payload.bin');
const payload = randomBytes(24 * MiB);
writeFileSync(file, payload);

test.before(async () => {
  await ensureBuilt();
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A node listener that keeps everything one connection sends. */
async function receiver(): Promise<{ port: number; received: Promise<Buffer>; connections: () => number; close: () => void }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let connections = 0;
  server.on('connection', () => (connections += 1));
  const received = new Promise<Buffer>((resolve) => {
    server.once('connection', (socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => {
        socket.end();
        server.close();
        resolve(Buffer.concat(chunks));
      });
    });
  });
  return { port: (server.address() as net.AddressInfo).port, received, connections: () => connections, close: () => server.close() };
}

test('sends a file to a listening socket: every byte arrives; progress lines and a summary', async (t) => {
  const { port, received } = await receiver();
  const cli = new CliProcess(['send', file, `127.0.0.1:${port}`]);
  t.is((await cli.exited).code, 0, cli.stderr);
  t.is(sha256(await received), sha256(payload));
  t.regex(cli.stdout, /^progress: .* of 24\.0 MiB \(\d+%\)$/m);
  t.regex(cli.stdout, /^progress: 24\.0 MiB of 24\.0 MiB \(100%\)$/m);
  t.regex(
    cli.stdout,
    new RegExp(`^sent 25165824 bytes \\(24\\.0 MiB\\) in \\d+\\.\\d{3} s, [\\d.]+ \\S+/s, via ${AUTO_FILE_METHOD_PATTERN}$`, 'm'),
  );
});

nativeTest('--method copy is honoured and reported', async (t) => {
  const { port, received } = await receiver();
  const cli = new CliProcess(['send', file, `127.0.0.1:${port}`, '--method', 'copy']);
  t.is((await cli.exited).code, 0, cli.stderr);
  t.is(sha256(await received), sha256(payload));
  t.regex(cli.stdout, /via copy$/m);
});

testUnless(noScript)('on a terminal, a progress bar', async (t) => {
  const { port, received } = await receiver();
  const command = `${process.execPath} ${cliPath} send ${file} 127.0.0.1:${port}`;
  // Asynchronously: the receiver lives in this process and must keep accepting meanwhile.
  const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, COLUMNS: '100' }, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  // 'close', not 'exit': the last of the output (the summary line) may still be in the pipe when
  // the process has exited (a CI run failed that way).
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const run = { status, stdout: output };
  t.is(run.status, 0, run.stdout);
  t.is(sha256(await received), sha256(payload));
  t.regex(run.stdout, /100% \| 24\.0 MiB of 24\.0 MiB/);
  t.regex(run.stdout, /sent 25165824 bytes/);
  t.notRegex(run.stdout, /^progress:/m);
});

test('errors: refused connection and missing file exit 1, bad address and bad method exit 2, each with a message', async (t) => {
  const port = await freePort();
  const refused = new CliProcess(['send', file, `127.0.0.1:${port}`]);
  t.is((await refused.exited).code, 1);
  t.regex(refused.stderr, /ECONNREFUSED/);

  const missing = new CliProcess(['send', join(dir, 'nope.bin'), `127.0.0.1:${port}`]);
  t.is((await missing.exited).code, 1);
  t.regex(missing.stderr, /ENOENT/);

  const address = new CliProcess(['send', file, 'no-port-here']);
  t.is((await address.exited).code, 2);
  t.regex(address.stderr, /HOST:PORT/);

  // Refused with the command line: the listener never sees a connection.
  const listener = await receiver();
  const method = new CliProcess(['send', file, `127.0.0.1:${listener.port}`, '--method', 'teleport']);
  t.is((await method.exited).code, 2);
  t.regex(method.stderr, /--method.*teleport/);
  t.is(listener.connections(), 0);
  listener.close();
});

test('a listener that goes away mid-transfer: exit 1, with how many bytes had gone', async (t) => {
  const server = net.createServer((socket) => {
    socket.once('data', () => socket.resetAndDestroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const big = join(dir, 'big.bin');
  writeFileSync(big, Buffer.alloc(256 * MiB));
  try {
    const cli = new CliProcess(['send', big, `127.0.0.1:${(server.address() as net.AddressInfo).port}`]);
    t.is((await cli.exited).code, 1);
    t.regex(cli.stderr, /(EPIPE|ECONNRESET|ERR_SOCKET_CLOSED|closed|reset|broken pipe).*after \d+ bytes/i);
  } finally {
    server.close();
  }
});
