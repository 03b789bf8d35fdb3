/**
 * Child process for fault-injection-proxy.spec.ts, started with the shim in LD_PRELOAD. Runs the
 * cases in the JSON file `argv[2]`: a client talks to an upstream through `proxy(a, b)` (or,
 * kind `relay`, through the one-way `transfer(socket, socket)`), each under its own fault plan.
 * The client sends payload A and half-closes; the upstream sends payload B and ends. Both ends
 * check every byte they receive against the payload as it arrives. Prints one JSON line.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { join } from 'node:path';

import { proxy, transfer } from '../../src';
import { Control, NO_FAULTS, runFixture, statsDelta, type Plan, type Stats } from './control';

export interface ProxyCase {
  name: string;
  /** `proxy`: both ways through proxy(a, b). `relay`: a → b only, through transfer(a, b). */
  kind: 'proxy' | 'relay';
  /** Bytes the client sends (A) and the upstream sends back (B; ignored by `relay`). */
  aBytes: number;
  bBytes: number;
  unix?: boolean;
  /** Wait until Node has read this many of A's bytes from `a` before handing it over: they must
   * go first (the prefix path). */
  early?: number;
  /** Readers alternate reading and pausing, so sockets fill up and the relay parks. */
  bursty: boolean;
  seed: number;
  plan: Plan;
}

/** What one end of the conversation received. */
export interface Received {
  expected: number;
  received: number;
  intact: boolean;
  firstMismatch?: number;
  complete: boolean;
  /** The stream ended with a FIN (not a reset or an error). */
  ended: boolean;
}

export interface ProxyCaseResult {
  name: string;
  hung: boolean;
  ok: boolean;
  code?: string;
  message?: string;
  aToB?: number;
  bToA?: number;
  /** What the upstream received of A, and the client of B. */
  upstream: Received;
  client: Received;
  stats: Stats;
}

const WATCHDOG_MS = Number(process.env.ZEROSEND_FAULT_WATCHDOG_MS ?? 60_000);

function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Reads `socket` to its end, checking each byte against `expected`; bursty if asked. */
function verify(socket: net.Socket, expected: Buffer, bursty: (() => number) | undefined) {
  let received = 0;
  let firstMismatch: number | undefined;
  let ended = false;
  socket.on('data', (chunk: Buffer) => {
    if (firstMismatch === undefined) {
      const want = expected.subarray(received, received + chunk.length);
      if (want.length !== chunk.length || !want.equals(chunk)) {
        let i = 0;
        while (i < want.length && want[i] === chunk[i]) i += 1;
        firstMismatch = received + i;
      }
    }
    received += chunk.length;
  });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  if (bursty) {
    const phase = (reading: boolean) => {
      if (stopped) return;
      if (reading) socket.resume();
      else socket.pause();
      timer = setTimeout(() => phase(!reading), Math.floor(bursty() * (reading ? 4 : 8)));
    };
    phase(false);
  } else {
    socket.resume();
  }
  const done = new Promise<void>((resolve) => {
    socket.once('end', () => {
      ended = true;
      resolve();
    });
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
  });
  return {
    done,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      socket.resume();
    },
    result: (): Received => ({
      expected: expected.length,
      received,
      intact: firstMismatch === undefined,
      firstMismatch,
      complete: firstMismatch === undefined && received === expected.length,
      ended,
    }),
  };
}

/** Writes `data` in pieces with backpressure, then half-closes; `bursty`: with pauses between
 * pieces, so the relay often finds its source empty (and parks on it). */
async function sendAll(socket: net.Socket, data: Buffer, random: () => number, bursty: boolean): Promise<void> {
  let sent = 0;
  while (sent < data.length && !socket.destroyed) {
    const n = Math.min(data.length - sent, 1 + Math.floor(random() * (bursty ? 64 : 256) * 1024));
    const more = socket.write(data.subarray(sent, sent + n));
    sent += n;
    if (!more) await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve));
    if (bursty && random() < 0.3) await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 3)));
  }
  if (!socket.destroyed) socket.end();
}

async function listen(server: net.Server, unix: boolean, dir: string, name: string): Promise<net.ListenOptions | string> {
  if (unix) {
    const path = join(dir, `${name}.sock`);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return path;
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' };
}

const connect = (where: net.ListenOptions | string, allowHalfOpen = false): net.Socket =>
  typeof where === 'string'
    ? net.connect({ path: where, allowHalfOpen })
    : net.connect({ port: where.port!, host: where.host, allowHalfOpen });

async function runCase(c: ProxyCase, control: Control, dir: string): Promise<ProxyCaseResult> {
  const random = generator(c.seed);
  const A = randomBytes(c.aBytes);
  const B = c.kind === 'proxy' ? randomBytes(c.bBytes) : Buffer.alloc(0);
  const bursty = c.bursty ? random : undefined;

  // The upstream: checks A, sends B and ends (a relay's upstream ends once A has ended: before,
  // its FIN would end the relay's destination under it).
  let upstreamCheck: ReturnType<typeof verify> | undefined;
  // Half-open on both ends: each keeps sending after the other side's FIN (Node's default would
  // end our writing as soon as the peer's end arrives, cutting our own payload short).
  const upstreamServer = net.createServer({ allowHalfOpen: true });
  const upstreamSeen = new Promise<void>((resolve) => {
    upstreamServer.once('connection', (u: net.Socket) => {
      u.on('error', () => {});
      const check = verify(u, A, bursty);
      upstreamCheck = check;
      if (c.kind === 'proxy') void sendAll(u, B, random, c.bursty);
      void check.done.then(() => {
        if (c.kind === 'relay' && !u.destroyed) u.end();
        resolve();
      });
    });
  });
  const upstreamAt = await listen(upstreamServer, c.unix ?? false, dir, `up-${c.seed}`);

  // The front: hands each connection to proxy() / transfer() under the plan.
  const front = net.createServer({ pauseOnConnect: true });
  const frontAt = await listen(front, c.unix ?? false, dir, `front-${c.seed}`);
  const accepted = new Promise<net.Socket>((resolve) => front.once('connection', resolve));

  const client = connect(frontAt, true);
  client.on('error', () => {});
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  const clientCheck = verify(client, B, bursty);
  const a = await accepted;
  a.on('error', () => {});
  front.close();
  const sending = sendAll(client, A, random, c.bursty);

  const early = Math.min(c.early ?? 0, c.aBytes);
  if (early > 0) {
    // Let Node read some of A into JS (paused: buffered, not consumed): the proxy owes it first.
    a.pause();
    a.read(0);
    while (a.readableLength < early && !a.readableEnded) await new Promise((resolve) => setTimeout(resolve, 1));
  }

  const b = connect(upstreamAt);
  b.on('error', () => {});
  const before = control.stats();
  control.setPlan(c.plan);
  let hung = false;
  let watchdog: NodeJS.Timeout | undefined;
  const abort = new AbortController();
  let outcome: Partial<ProxyCaseResult>;
  try {
    const run =
      c.kind === 'proxy'
        ? proxy(a, b, { signal: abort.signal }).then((r) => ({ aToB: r.aToB, bToA: r.bToA }))
        : transfer(a, b, { signal: abort.signal }).then((r) => ({ aToB: r.bytes, bToA: 0 }));
    const result = await Promise.race([
      run,
      new Promise<never>((_, reject) => {
        watchdog = setTimeout(() => {
          hung = true;
          reject(new Error('watchdog: the proxy did not settle'));
        }, WATCHDOG_MS);
      }),
    ]);
    outcome = { ok: true, ...result };
  } catch (error) {
    const e = error as { code?: string; message?: string; aToB?: number; bToA?: number; bytes?: number };
    outcome = { ok: false, code: e.code, message: e.message, aToB: e.aToB ?? e.bytes, bToA: e.bToA };
  } finally {
    clearTimeout(watchdog);
  }
  control.setPlan(NO_FAULTS);
  const stats = statsDelta(before, control.stats());
  if (hung) abort.abort();
  if (!outcome.ok) {
    // What an application does after a failed relay; the upstream then sees everything that
    // reached `b` followed by a FIN (its receive queue at `b` is empty, so no reset).
    a.destroy();
    b.destroy();
  }
  await sending;
  await upstreamSeen;
  clientCheck.stop();
  upstreamCheck?.stop();
  if (c.kind === 'relay') client.destroy();
  await clientCheck.done;
  a.destroy();
  b.destroy();
  client.destroy();
  upstreamServer.close();
  return {
    name: c.name,
    hung,
    ok: outcome.ok ?? false,
    ...outcome,
    upstream: upstreamCheck?.result() ?? { expected: A.length, received: 0, intact: true, complete: A.length === 0, ended: false },
    client: clientCheck.result(),
    stats,
  };
}

runFixture<ProxyCase, ProxyCaseResult>('zs-fault-proxy-', runCase);
