/**
 * proxy() and the one-way socket relay (`transfer(socket, socket)`) under faults injected at the
 * system-call boundary (see fault-injection.spec.ts for the shim): short splices, EINTR, honest
 * EAGAIN on either side of the pipe, and chosen errnos before and after the first byte. Each
 * scenario runs in a child process (fault-injection/proxy-fixture.ts) where the client and the
 * upstream check every byte they receive.
 *
 * What must hold: under short counts, EINTR and EAGAIN both directions arrive exactly; an errno
 * fails the connection with that errno's code and counts equal to what each side received, and
 * what each side received is an exact prefix of what was sent; a pipe left holding bytes by a
 * failure is never handed to the next connection.
 *
 * Seeds: `ZEROSEND_FAULT_SEEDS=1,2,3 npx ava __test__/fault-injection-proxy.spec.ts`; the seeds
 * are in the test titles.
 */
import { type ExecutionContext } from 'ava';

import { total, type Plan } from './fault-injection/control';
import { canInject, runUnderShim, seeds } from './fault-injection/harness';
import type { ProxyCase, ProxyCaseResult } from './fault-injection/proxy-fixture';
import { KiB, MiB } from './helpers/net';
import { nativeTest } from './helpers/native';
import { testUnless } from './helpers/skip';

const injection = canInject();
const injectTest = injection.ok ? nativeTest : testUnless(injection.why);
if (!injection.ok) console.log(`fault injection skipped: ${injection.why}`);

const SEEDS = seeds();
console.log(`fault-injection (proxy) seeds: ${SEEDS.join(',')} (rerun with ZEROSEND_FAULT_SEEDS=${SEEDS.join(',')})`);

const CALLS = ['splice', 'send'] as const;

function randomFaultCases(seed: number): ProxyCase[] {
  const heavy: Plan = { seed, short: 0.5, shortMax: 64 * KiB, eintr: 0.15, eagain: 0.4, calls: CALLS };
  return [
    { name: 'proxy, tcp, early bytes', kind: 'proxy', aBytes: 3 * MiB + 5, bBytes: 2 * MiB + 11, early: 5000, bursty: true, seed, plan: heavy },
    {
      name: 'proxy, unix',
      kind: 'proxy',
      aBytes: 2 * MiB,
      bBytes: 3 * MiB + 1,
      unix: true,
      bursty: true,
      seed: seed + 1,
      plan: { ...heavy, seed: seed + 1 },
    },
    {
      name: 'proxy, tiny calls',
      kind: 'proxy',
      aBytes: 200 * KiB + 3,
      bBytes: 300 * KiB + 7,
      early: 100,
      bursty: false,
      seed: seed + 2,
      plan: { seed: seed + 2, short: 0.9, shortMax: 512, eintr: 0.3, eagain: 0.3, calls: CALLS },
    },
    { name: 'proxy, one side silent', kind: 'proxy', aBytes: MiB, bBytes: 0, bursty: true, seed: seed + 3, plan: { ...heavy, seed: seed + 3 } },
    { name: 'relay, tcp, early bytes', kind: 'relay', aBytes: 3 * MiB + 9, bBytes: 0, early: 3000, bursty: true, seed: seed + 4, plan: { ...heavy, seed: seed + 4 } },
    { name: 'relay, unix', kind: 'relay', aBytes: 2 * MiB, bBytes: 0, unix: true, bursty: true, seed: seed + 5, plan: { ...heavy, seed: seed + 5 } },
  ];
}

function assertExact(t: ExecutionContext, r: ProxyCaseResult): void {
  const label = `${r.name}: ${JSON.stringify({ ...r, stats: undefined })}`;
  t.false(r.hung, `${label}: hung`);
  t.true(r.ok, `${label}: rejected`);
  t.true(r.upstream.complete && r.upstream.ended, `${label}: upstream got A whole`);
  t.true(r.client.complete, `${label}: client got B whole`);
  t.is(r.aToB, r.upstream.expected, label);
  t.is(r.bToA, r.client.expected, label);
}

for (const seed of SEEDS) {
  injectTest(`proxy and relay: exact bytes under short splices, EINTR and EAGAIN (seed ${seed})`, async (t) => {
    const { results } = await runUnderShim<ProxyCaseResult[]>('proxy-fixture.ts', randomFaultCases(seed));
    for (const r of results) {
      assertExact(t, r);
      t.log(`${r.name}: ${JSON.stringify(r.stats)}`);
    }
    const all = results.map((r) => r.stats);
    const sum = (kind: 'short' | 'eintr' | 'eagain') => all.reduce((n, s) => n + total(s, kind), 0);
    t.true(sum('short') > 0, 'some calls were shortened');
    t.true(sum('eintr') > 0, 'some calls were interrupted');
    t.log(`injected: ${sum('short')} short, ${sum('eintr')} EINTR, ${sum('eagain')} EAGAIN`);
  });
}

const ERRNOS = ['EINVAL', 'ENOSYS', 'EOPNOTSUPP', 'EIO', 'ENOMEM', 'EPIPE', 'ECONNRESET'] as const;

function errnoCases(seed: number): (ProxyCase & { after: boolean })[] {
  const cases: (ProxyCase & { after: boolean })[] = [];
  for (const errno of ERRNOS) {
    for (const kind of ['proxy', 'relay'] as const) {
      // Before any byte: the first splice (or the write of the early bytes) fails.
      cases.push({
        name: `${kind}: ${errno} at the first splice`,
        kind,
        aBytes: 256 * KiB,
        bBytes: 0,
        bursty: false,
        seed,
        plan: { errno, at: 1, calls: [], errnoCalls: ['splice'] },
        after: false,
      });
      // After some bytes: splices move at most 4 KiB, the 40th fails.
      cases.push({
        name: `${kind}: ${errno} after some bytes`,
        kind,
        aBytes: 512 * KiB,
        bBytes: 0,
        bursty: false,
        seed,
        plan: { seed, short: 1, shortMax: 4 * KiB, calls: ['splice'], errno, at: 40, errnoCalls: ['splice'] },
        after: true,
      });
    }
    cases.push({
      name: `proxy: ${errno} writing the early bytes`,
      kind: 'proxy',
      aBytes: 256 * KiB,
      bBytes: 0,
      early: 1000,
      bursty: false,
      seed,
      plan: { errno, at: 1, calls: [], errnoCalls: ['send'] },
      after: false,
    });
  }
  return cases;
}

injectTest(`proxy and relay: chosen errnos before and after the first byte (seed ${SEEDS[0]})`, async (t) => {
  const cases = errnoCases(SEEDS[0]);
  // After all the failures, clean connections: a pipe left dirty in the pool would show here.
  const clean: ProxyCase[] = [
    { name: 'clean proxy after the failures', kind: 'proxy', aBytes: MiB, bBytes: MiB, bursty: true, seed: 9, plan: { calls: [] } },
    { name: 'clean relay after the failures', kind: 'relay', aBytes: MiB, bBytes: 0, bursty: true, seed: 10, plan: { calls: [] } },
  ];
  const { results } = await runUnderShim<ProxyCaseResult[]>('proxy-fixture.ts', [...cases, ...clean]);
  results.forEach((r, i) => {
    const label = `${r.name}: ${JSON.stringify(r)}`;
    t.false(r.hung, `${label}: hung`);
    t.true(r.upstream.intact && r.client.intact, `${label}: nothing duplicated or skipped`);
    if (i >= cases.length) return assertExact(t, r);
    const c = cases[i];
    const errno = c.plan.errno!;
    t.is(total(r.stats, 'errno'), 1, `${label}: the errno was injected once`);
    t.false(r.ok, label);
    t.is(r.code, errno, label);
    // `b`'s receive queue was empty when it closed (the upstream sent nothing): a FIN, no reset,
    // so the upstream received every byte the relay counted.
    t.is(r.aToB, r.upstream.received, `${label}: aToB is what the upstream received`);
    if (c.after) t.true(r.upstream.received > 0, `${label}: bytes flowed before the error`);
    else t.is(r.upstream.received, 0, label);
    t.true(r.upstream.received < r.upstream.expected, label);
  });
});
