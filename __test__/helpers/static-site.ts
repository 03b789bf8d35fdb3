/**
 * Fixtures for the static server tests: a folder with known files (and traps), a server on a
 * free port, curl, and raw requests written by hand (curl and node:http normalise paths).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { join } from 'node:path';
import { gzipSync, brotliCompressSync } from 'node:zlib';

import type { ExecutionContext } from 'ava';

import { tempDir } from './net';

export interface Site {
  /** The served folder. */
  root: string;
  /** A folder next to it, holding what must never be served. */
  outside: string;
  files: Record<string, Buffer>;
}

/**
 * ```
 * outside/secret.txt          never reachable
 * root/index.html
 * root/data.bin               100 000 random bytes
 * root/empty.txt              0 bytes
 * root/hello world é.txt      a name that needs percent-encoding
 * root/style.css, app.js      (+ .br and .gz variants of app.js)
 * root/sub/index.html, sub/a.txt
 * root/noindex/x.txt          a folder without index.html
 * root/.env, root/sub/.hidden/x.txt
 * root/inside-link.txt        symlink to data.bin (inside the root)
 * root/escape.txt             symlink to outside/secret.txt
 * root/escape-dir             symlink to outside/
 * ```
 */
export function makeSite(): Site {
  const base = tempDir('zs-static-');
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  for (const dir of [root, outside, join(root, 'sub', '.hidden'), join(root, 'noindex')]) mkdirSync(dir, { recursive: true });
  const appJs = Buffer.from('console.log("zerosend");\n'.repeat(200));
  const files: Record<string, Buffer> = {
    'index.html': Buffer.from('<!doctype html><h1>root index</h1>\n'),
    'data.bin': randomBytes(100_000),
    'empty.txt': Buffer.alloc(0),
    'hello world é.txt': Buffer.from('hello, encoded world\n'),
    'style.css': Buffer.from('body { color: black }\n'),
    'app.js': appJs,
    'app.js.br': brotliCompressSync(appJs),
    'app.js.gz': gzipSync(appJs),
    'sub/index.html': Buffer.from('<h1>sub index</h1>\n'),
    'sub/a.txt': Buffer.from('sub a\n'),
    'noindex/x.txt': Buffer.from('x\n'),
    '.env': Buffer.from('SECRET_TOKEN=dotfile-must-not-leak\n'),
    'sub/.hidden/x.txt': Buffer.from('hidden-must-not-leak\n'),
  };
  for (const [name, data] of Object.entries(files)) writeFileSync(join(root, name), data);
  writeFileSync(join(outside, 'secret.txt'), 'OUTSIDE-SECRET-must-not-leak\n');
  symlinkSync(join(root, 'data.bin'), join(root, 'inside-link.txt'));
  symlinkSync(join(outside, 'secret.txt'), join(root, 'escape.txt'));
  symlinkSync(outside, join(root, 'escape-dir'));
  return { root, outside, files };
}

/** Words that appear only in files that must never be served. */
export const SECRETS = ['dotfile-must-not-leak', 'hidden-must-not-leak', 'OUTSIDE-SECRET', 'root:x:0:0'];

/** Listens on a free loopback port; `close()` also ends keep-alive connections. */
export async function listen(server: http.Server | https.Server): Promise<{ port: number; url: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface CurlResponse {
  status: number;
  /** Lower-case names; the last block when curl followed nothing. */
  headers: Record<string, string | undefined>;
  body: Buffer;
  /** curl's -w output after the headers, if asked for. */
  stdout: string;
}

/** Runs curl on `args` (URLs and options); the response of the last URL is parsed. */
export function curl(...args: string[]): Promise<CurlResponse> {
  const bodyFile = join(tempDir('zs-curl-'), 'body');
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      ['-sS', '--dump-header', '-', '--output', bodyFile, ...args],
      { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`curl ${args.join(' ')}: ${stderr || error.message}`));
        const blocks = stdout.split(/\r\n\r\n/).filter((block) => block.startsWith('HTTP/'));
        const last = blocks[blocks.length - 1] ?? '';
        const [statusLine = '', ...lines] = last.split('\r\n');
        const headers: Record<string, string | undefined> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        let body: Buffer;
        try {
          body = readFileSync(bodyFile);
        } catch {
          body = Buffer.alloc(0);
        }
        resolve({ status: Number(statusLine.split(' ')[1]), headers, body, stdout });
      },
    );
  });
}

/** Sends `request` as is over a new connection and returns everything until the server closes. */
export function rawRequest(port: number, request: string | Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('close', () => resolve(Buffer.concat(chunks)));
    socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request);
  });
}

/** `GET <target>` written byte for byte, with `Connection: close`; returns status and whole response. */
export async function rawGet(port: number, target: string): Promise<{ status: number; text: string }> {
  const response = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  const text = response.toString('latin1');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text };
}

/** Runs curl with exactly `args`; resolves its stdout. */
export function curlRaw(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('curl', args, { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`curl ${args.join(' ')}: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

/** The error page serve-static's `send` (and zerosend) answer with: `<pre>Not Found</pre>` in a minimal document. */
export function errorPage(message: string): Buffer {
  return Buffer.from(
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n' +
      `<body>\n<pre>${message}</pre>\n</body>\n</html>\n`,
  );
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The client socket the request went over (to count connections). */
  socket: net.Socket;
}

/** One request through `agent` (node:http or https by the URL); the whole body. */
export function request(agent: http.Agent | https.Agent, url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { agent, headers, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), socket: req.socket! }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A `GET` written by hand, to pipeline several on one connection. */
export const rawGetRequest = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

/**
 * Pipelined responses, as one connection returned them: each must have the expected status and
 * exactly the expected body (framed by its `Content-Length`), in order, with nothing after.
 */
export function checkPipelined(t: ExecutionContext, response: Buffer, expected: ReadonlyArray<readonly [number, Buffer]>): void {
  let rest = response;
  for (const [status, body] of expected) {
    const end = rest.indexOf('\r\n\r\n');
    const head = rest.subarray(0, end).toString('latin1');
    t.regex(head, new RegExp(`^HTTP/1.1 ${status} `));
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
    t.true(rest.subarray(end + 4, end + 4 + length).equals(body), head.split('\r\n')[0]);
    rest = rest.subarray(end + 4 + length);
  }
  t.is(rest.length, 0, 'nothing after the last response');
}
