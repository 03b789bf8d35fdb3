/**
 * transfer() under faults injected at the system-call boundary: an LD_PRELOAD shim
 * (fault-injection/shim.c) wraps the libc symbols the binding imports, for the binding's own calls
 * on the descriptors under test, and returns short counts, EINTR, honest EAGAIN (only when the
 * descriptor really is not ready) and chosen errnos. Each scenario runs in a child process
 * (fault-injection/transfer-fixture.ts) that checks every received byte against the expected stream.
 *
 * What must hold (DESIGN.md, "Loop discipline"):
 * - under short counts, EINTR and EAGAIN the bytes arrive exactly, for every method;
 * - EINVAL/ENOSYS/EOPNOTSUPP before the first file byte: `auto` falls back to a copy, an explicit
 *   method rejects with ERR_ZEROSEND_UNSUPPORTED; other errnos reject with their own code;
 * - any errno after some bytes rejects with that errno's code and `bytes` equal to what the peer
 *   received, and what it received is an exact prefix of the expected stream.
 *
 * Seeds: `ZEROSEND_FAULT_SEEDS=1,2,3 npx ava __test__/fault-injection.spec.ts` reproduces a run;
 * the seeds are in the test titles.
 */
import { type ExecutionContext } from 'ava';

import { type Method } from '../src';
import type { Plan, SymbolName } from './fault-injection/control';
import { total } from './fault-injection/control';
import { canInject, runUnderShim, seeds } from './fault-injection/harness';
import type { TransferCase, TransferCaseResult } from './fault-injection/transfer-fixture';
import { KiB, MiB } from './helpers/net';
import { nativeTest } from './helpers/native';
import { testUnless } from './helpers/skip';

type Engine = Exclude<Method, 'auto'>;

/** The symbols through which each engine moves file bytes (the prefix always goes through send). */
const ENGINE_CALLS: Record<Engine, SymbolName[]> = {
  sendfile: ['sendfile64', 'sendfile', 'send'],
  splice: ['splice', 'send'],
  mmap: ['send', 'write'],
  copy: ['pread', 'pread64', 'send', 'write'],
};
/** The call that moves the file's bytes, where an errno hurts most. */
const MAIN_CALL: Record<Engine, SymbolName[]> = {
  sendfile: ['sendfile64', 'sendfile'],
  splice: ['splice'],
  mmap: ['send', 'write'],
  copy: ['send', 'write'],
};
const ENGINES: Engine[] = ['sendfile', 'splice', 'mmap', 'copy'];
const UNSUPPORTED_ERRNOS = ['EINVAL', 'ENOSYS', 'EOPNOTSUPP'] as const;
const OTHER_ERRNOS = ['EIO', 'ENOMEM'] as const;
type Errno = (typeof UNSUPPORTED_ERRNOS)[number] | (typeof OTHER_ERRNOS)[number];
const ERRNOS: Errno[] = [...UNSUPPORTED_ERRNOS, ...OTHER_ERRNOS];
const isUnsupported = (errno: Errno): boolean => (UNSUPPORTED_ERRNOS as readonly string[]).includes(errno);

const injection = canInject();
const injectTest = injection.ok ? nativeTest : testUnless(injection.why);
if (!injection.ok) console.log(`fault injection skipped: ${injection.why}`);

const SEEDS = seeds();
console.log(`fault-injection seeds: ${SEEDS.join(',')} (rerun with ZEROSEND_FAULT_SEEDS=${SEEDS.join(',')})`);

/** Heavy random faults: every case must deliver every byte, exactly. */
function randomFaultCases(method: Engine, seed: number): TransferCase[] {
  const calls = ENGINE_CALLS[method];
  const heavy: Plan = { seed, short: 0.5, shortMax: 64 * KiB, eintr: 0.15, eagain: 0.3, calls };
  return [
    { name: 'tcp, bursty reader', size: 6 * MiB, method, reader: 'bursty', seed, plan: heavy },
    {
      // Every call shortened: hundreds of calls, many of them against a full socket.
      name: 'tcp, bursty reader, small calls',
      size: 4 * MiB + 1,
      method,
      reader: 'bursty',
      seed: seed + 5,
      plan: { ...heavy, seed: seed + 5, short: 1, shortMax: 32 * KiB, eagain: 0.5 },
    },
    {
      name: 'unix, prefix, offset and length',
      size: 2 * MiB + 77,
      offset: 12_345,
      length: MiB + 999,
      prefix: 1000,
      unix: true,
      method,
      reader: 'bursty',
      seed: seed + 1,
      plan: { ...heavy, seed: seed + 1 },
    },
    {
      name: 'tiny calls',
      size: 256 * KiB + 3,
      prefix: 300,
      method,
      reader: 'fast',
      seed: seed + 2,
      plan: { seed: seed + 2, short: 0.9, shortMax: 512, eintr: 0.3, eagain: 0.3, calls },
    },
    {
      name: 'one byte and a prefix',
      size: 1,
      prefix: 10,
      method,
      reader: 'fast',
      seed: seed + 3,
      plan: { seed: seed + 3, short: 0.7, shortMax: 3, eintr: 0.5, calls },
    },
    {
      name: 'empty range after a prefix',
      size: 4096,
      offset: 4096,
      prefix: 50,
      method,
      reader: 'fast',
      seed: seed + 4,
      plan: { seed: seed + 4, short: 0.7, shortMax: 7, eintr: 0.5, calls },
    },
  ];
}

function assertExact(t: ExecutionContext, r: TransferCaseResult, method: string): void {
  const label = `${r.name}: ${JSON.stringify({ ...r, stats: undefined })}`;
  t.false(r.hung, `${label}: hung`);
  t.true(r.ok, `${label}: rejected`);
  t.is(r.method, method, label);
  t.is(r.bytes, r.expectedLength, label);
  t.is(r.received, r.expectedLength, label);
  t.true(r.intact, label);
  t.is(r.sha256Received, r.sha256Expected, label);
}

for (const method of ENGINES) {
  for (const seed of SEEDS) {
    injectTest(`${method}: exact bytes under short counts, EINTR and EAGAIN (seed ${seed})`, async (t) => {
      const { results } = await runUnderShim<TransferCaseResult[]>('transfer-fixture.ts', randomFaultCases(method, seed));
      for (const r of results) {
        assertExact(t, r, method);
        t.log(`${r.name}: ${JSON.stringify(r.stats)}`);
      }
      // The faults really happened (else this test would prove nothing).
      const all = results.map((r) => r.stats);
      const sum = (kind: 'short' | 'eintr' | 'eagain') => all.reduce((n, s) => n + total(s, kind), 0);
      t.true(sum('short') > 0, 'some calls were shortened');
      t.true(sum('eintr') > 0, 'some calls were interrupted');
      t.log(`injected: ${sum('short')} short, ${sum('eintr')} EINTR, ${sum('eagain')} EAGAIN`);
    });
  }
}

interface ErrnoCase extends TransferCase {
  expect:
    | { kind: 'exact' }
    | { kind: 'fallback' }
    | { kind: 'reject-before'; code: string }
    | { kind: 'reject-after'; code: string };
}

/** The errno cases of one engine: before the first file byte, and after some. */
function errnoCases(method: Engine, seed: number): ErrnoCase[] {
  const cases: ErrnoCase[] = [];
  const base = { size: 512 * KiB, reader: 'fast' as const, seed };
  for (const errno of ERRNOS) {
    // An explicit zero-copy method says it cannot serve the pair; a copy has nothing left to fall
    // back to, so its errno is the answer (transfer.rs, `fall_back`).
    const before: ErrnoCase['expect'] =
      isUnsupported(errno) && method !== 'copy'
        ? { kind: 'reject-before', code: 'ERR_ZEROSEND_UNSUPPORTED' }
        : { kind: 'reject-before', code: errno };
    // The first call of each kind of call this engine makes before any file byte reaches the peer.
    const firstCallsOf: Record<Engine, SymbolName[][]> = {
      sendfile: [['sendfile64', 'sendfile']],
      // 1st splice fills the pipe, 2nd drains it: both come before the first byte arrives.
      splice: [['splice']],
      mmap: [['mmap', 'mmap64'], ['send', 'write']],
      copy: [['pread', 'pread64'], ['send', 'write']],
    };
    const firstCalls = firstCallsOf[method];
    for (const errnoCalls of firstCalls) {
      cases.push({
        ...base,
        name: `${errno} at the first ${errnoCalls[0]}, method ${method}`,
        method,
        plan: { errno, at: 1, calls: [], errnoCalls },
        expect: before,
      });
    }
    if (method === 'splice') {
      cases.push({
        ...base,
        name: `${errno} at the first drain of the pipe, method splice`,
        method,
        plan: { errno, at: 2, calls: [], errnoCalls: ['splice'] },
        expect: before,
      });
    }
    // After some bytes: every call moves at most 4 KiB, and the 40th call of the main kind fails
    // (the prefix takes a few of those calls; 39 calls cannot move the whole 512 KiB).
    cases.push({
      ...base,
      name: `${errno} after some bytes, method ${method}`,
      method,
      prefix: 100,
      plan: {
        seed,
        short: 1,
        shortMax: 4 * KiB,
        calls: ENGINE_CALLS[method],
        errno,
        at: 40,
        errnoCalls: MAIN_CALL[method],
      },
      expect: { kind: 'reject-after', code: errno },
    });
    if (method === 'sendfile') {
      // `auto` picks sendfile below 64 KiB (above it, a copy or mmap for a peer on this
      // machine over BBR); its first call failing must fall back (or fail) the same way with
      // and without a prefix sent.
      for (const prefix of [undefined, 700]) {
        cases.push({
          ...base,
          size: 48 * KiB,
          name: `${errno} at the first sendfile, method auto${prefix ? ', with a prefix' : ''}`,
          method: 'auto',
          prefix,
          plan: { errno, at: 1, calls: [], errnoCalls: ['sendfile64', 'sendfile'] },
          expect: isUnsupported(errno) ? { kind: 'fallback' } : { kind: 'reject-before', code: errno },
        });
      }
    }
  }
  // A transfer after all those failures: a pipe left dirty in the pool would show up here.
  cases.push({ ...base, name: `clean run after the failures, method ${method}`, method, plan: { calls: [] }, expect: { kind: 'exact' } });
  return cases;
}

for (const method of ENGINES) {
  const seed = SEEDS[0];
  injectTest(`${method}: chosen errnos before and after the first byte (seed ${seed})`, async (t) => {
    const cases = errnoCases(method, seed);
    const { results } = await runUnderShim<TransferCaseResult[]>('transfer-fixture.ts', cases);
    results.forEach((r, i) => {
      const c = cases[i];
      const label = `${r.name}: ${JSON.stringify(r)}`;
      t.false(r.hung, `${label}: hung`);
      // Whatever arrived is an exact prefix of the expected stream: nothing duplicated or skipped.
      t.true(r.intact, label);
      if (c.expect.kind === 'exact') {
        assertExact(t, r, method);
        return;
      }
      t.is(total(r.stats, 'errno'), 1, `${label}: the errno was injected once`);
      switch (c.expect.kind) {
        case 'fallback':
          assertExact(t, r, 'copy');
          break;
        case 'reject-before':
          t.false(r.ok, label);
          t.is(r.code, c.expect.code, label);
          // Only a prefix may have gone before the file's first byte.
          t.is(r.errorBytes, r.received, label);
          t.true(r.received <= (c.prefix ?? 0), label);
          break;
        case 'reject-after':
          t.false(r.ok, label);
          t.is(r.code, c.expect.code, label);
          t.is(r.errorBytes, r.received, `${label}: err.bytes is what the peer received`);
          t.true(r.received > (c.prefix ?? 0), `${label}: file bytes were sent before the error`);
          t.true(r.received < r.expectedLength, label);
          break;
      }
    });
  });
}

/**
 * `auto` falls back from sendfile to a copy on EINVAL; if the copy then fails with an unsupported
 * errno too, there is nothing left to fall back to: the errno itself is the report (not
 * ERR_ZEROSEND_UNSUPPORTED, which would tell a caller who used 'auto' to use 'auto').
 */
injectTest('auto: an unsupported errno after the fallback to copy is reported as that errno', async (t) => {
  const cases: TransferCase[] = [
    {
      name: 'EINVAL from sendfile, then from the copy',
      // Below 64 KiB, where `auto` picks sendfile for a loopback peer.
      size: 48 * KiB,
      method: 'auto',
      reader: 'fast',
      seed: 1,
      plan: { errno: 'EINVAL', at: 1, times: 2, calls: [], errnoCalls: ['sendfile64', 'sendfile', 'send', 'write'] },
    },
  ];
  const { results } = await runUnderShim<TransferCaseResult[]>('transfer-fixture.ts', cases);
  const [r] = results;
  t.is(total(r.stats, 'errno'), 2, 'both calls failed');
  t.false(r.ok);
  t.is(r.code, 'EINVAL', JSON.stringify(r));
  t.is(r.errorBytes, 0);
});
