/**
 * Child process for fault-injection.spec.ts, started with the shim in LD_PRELOAD (the test's
 * harness does that). Runs the transfer cases named in the JSON file `argv[2]` one after another,
 * each under its own fault plan, and prints one JSON line: what every transfer returned or threw,
 * what the peer received (checked byte for byte against the expected stream as it arrives), and
 * what the shim injected meanwhile.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';

import { transfer, type Method } from '../../src';
import { socketPair } from '../helpers/net';
import { Control, NO_FAULTS, runFixture, statsDelta, type Plan, type Stats } from './control';

export interface TransferCase {
  name: string;
  /** File size; the file is random bytes. */
  size: number;
  offset?: number;
  length?: number;
  method: Method;
  /** Bytes of random prefix. */
  prefix?: number;
  unix?: boolean;
  /** `bursty`: the peer alternates reading and not reading, so the sender's socket fills up. */
  reader: 'fast' | 'bursty';
  /** Drives the reader's rhythm. */
  seed: number;
  plan: Plan;
}

export interface TransferCaseResult {
  name: string;
  /** The transfer did not settle within the watchdog's time: the fixture gave up on it. */
  hung: boolean;
  ok: boolean;
  method?: string;
  bytes?: number;
  code?: string;
  /** `err.bytes` of a rejection. */
  errorBytes?: number;
  message?: string;
  expectedLength: number;
  received: number;
  /** Every received byte equals the expected byte at its position (nothing duplicated or skipped). */
  intact: boolean;
  /** Index of the first wrong byte, when not intact. */
  firstMismatch?: number;
  sha256Expected: string;
  sha256Received: string;
  stats: Stats;
}

const WATCHDOG_MS = Number(process.env.ZEROSEND_FAULT_WATCHDOG_MS ?? 60_000);

/** mulberry32: a small seeded generator for the reader's rhythm. */
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

/** Reads `socket` to its end, comparing each byte with `expected` as it arrives. */
function verify(socket: Socket, expected: Buffer) {
  const hash = createHash('sha256');
  let received = 0;
  let firstMismatch: number | undefined;
  socket.on('data', (chunk: Buffer) => {
    hash.update(chunk);
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
  const done = new Promise<void>((resolve) => {
    socket.once('end', resolve);
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
  });
  return {
    done,
    result: () => ({ received, firstMismatch, sha256: hash.copy().digest('hex') }),
  };
}

/** Alternates resume() and pause() at random intervals until stopped. */
function burstyReader(socket: Socket, random: () => number): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const phase = (reading: boolean) => {
    if (stopped) return;
    if (reading) socket.resume();
    else socket.pause();
    timer = setTimeout(() => phase(!reading), Math.floor(random() * (reading ? 4 : 8)));
  };
  phase(false);
  return () => {
    stopped = true;
    clearTimeout(timer);
    socket.resume();
  };
}

async function runCase(c: TransferCase, control: Control, dir: string): Promise<TransferCaseResult> {
  const data = randomBytes(c.size);
  const path = join(dir, `${c.name.replace(/[^a-z0-9]+/gi, '-')}.bin`);
  writeFileSync(path, data);
  const prefix = c.prefix ? randomBytes(c.prefix) : undefined;
  const offset = c.offset ?? 0;
  const slice = data.subarray(offset, c.length === undefined ? undefined : offset + c.length);
  const expected = prefix ? Buffer.concat([prefix, slice]) : slice;

  const pair = await socketPair({ unix: c.unix, pauseOnConnect: true });
  const check = verify(pair.server, expected);
  const stopReader = c.reader === 'bursty' ? burstyReader(pair.server, generator(c.seed)) : () => {};
  if (c.reader === 'fast') pair.server.resume();

  const before = control.stats();
  control.setPlan(c.plan);
  let outcome: Partial<TransferCaseResult> = {};
  let hung = false;
  let watchdog: NodeJS.Timeout | undefined;
  const abort = new AbortController();
  try {
    const result = await Promise.race([
      transfer(path, pair.client, {
        method: c.method,
        offset: c.offset,
        length: c.length,
        prefix,
        signal: abort.signal,
      }),
      new Promise<never>((_, reject) => {
        watchdog = setTimeout(() => {
          hung = true;
          reject(new Error('watchdog: the transfer did not settle'));
        }, WATCHDOG_MS);
      }),
    ]);
    outcome = { ok: true, method: result.method, bytes: result.bytes };
  } catch (error) {
    const e = error as { code?: string; bytes?: number; message?: string };
    outcome = { ok: false, code: e.code, errorBytes: e.bytes, message: e.message };
  } finally {
    clearTimeout(watchdog);
  }
  control.setPlan(NO_FAULTS);
  const stats = statsDelta(before, control.stats());
  if (hung) {
    // Leave the stuck transfer behind (cancel it, so the process can exit) and report.
    abort.abort();
  }
  stopReader();
  pair.client.end();
  await check.done;
  pair.close();
  const seen = check.result();
  return {
    name: c.name,
    hung,
    ok: outcome.ok ?? false,
    ...outcome,
    expectedLength: expected.length,
    received: seen.received,
    intact: seen.firstMismatch === undefined,
    firstMismatch: seen.firstMismatch,
    sha256Expected: createHash('sha256').update(expected).digest('hex'),
    sha256Received: seen.sha256,
    stats,
  };
}

runFixture<TransferCase, TransferCaseResult>('zs-fault-', runCase);
