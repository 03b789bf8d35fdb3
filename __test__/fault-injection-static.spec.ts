/**
 * createStaticServer() under faults injected at the system-call boundary (the shim of
 * fault-injection.spec.ts), in a child process (fault-injection/static-fixture.ts): keep-alive
 * downloads with and without ranges while sendfile and send return short counts, EINTR and honest
 * EAGAIN — every body must arrive exactly — and with an errno in the middle of a body: that
 * response is cut off (never a wrong byte, never a keep-alive connection out of step with its
 * Content-Length), the server reports the errno, and every other response is whole.
 *
 * Seeds: `ZEROSEND_FAULT_SEEDS=1,2,3 npx ava __test__/fault-injection-static.spec.ts`.
 */
import { total, type Plan } from './fault-injection/control';
import { canInject, runUnderShim, seeds } from './fault-injection/harness';
import type { StaticCase, StaticCaseResult, StaticRequest } from './fault-injection/static-fixture';
import { nativeTest } from './helpers/native';
import { testUnless } from './helpers/skip';

const injection = canInject();
const injectTest = injection.ok ? nativeTest : testUnless(injection.why);
if (!injection.ok) console.log(`fault injection skipped: ${injection.why}`);

const SEEDS = seeds();
console.log(`fault-injection (static) seeds: ${SEEDS.join(',')} (rerun with ZEROSEND_FAULT_SEEDS=${SEEDS.join(',')})`);

const MIXED: StaticRequest[] = [
  { file: 'big.bin' },
  { file: 'big.bin', range: 'bytes=1000-2000000' },
  { file: 'big.bin', range: 'bytes=-70000' },
  { file: 'small.bin' },
  { file: 'small.bin', range: 'bytes=4095-4096' },
  { file: 'one.bin' },
  { file: 'empty.bin' },
  { file: 'big.bin', range: 'bytes=3000000-' },
];

injectTest(`static server: exact bodies under short counts, EINTR and EAGAIN (seeds ${SEEDS.join(',')})`, async (t) => {
  const cases: StaticCase[] = SEEDS.map((seed) => ({
    name: `seed ${seed}`,
    plan: { seed, short: 0.6, shortMax: 32 * 1024, eintr: 0.2, eagain: 0.4, calls: ['sendfile64', 'sendfile', 'send'] } satisfies Plan,
    requests: [...MIXED, ...MIXED, ...MIXED],
  }));
  const { results } = await runUnderShim<StaticCaseResult[]>('static-fixture.ts', cases);
  for (const r of results) {
    for (const res of r.responses) {
      const label = `${r.name}: ${JSON.stringify(res)}`;
      t.true(res.status === 200 || res.status === 206, label);
      t.true(res.intact, label);
      t.true(res.complete, label);
    }
    t.deepEqual(
      r.served.filter((s) => s.error !== undefined),
      [],
      `${r.name}: the server saw no failure`,
    );
    t.true(total(r.stats, 'short') > 0 && total(r.stats, 'eintr') > 0, `${r.name}: faults were injected`);
    t.log(`${r.name}: ${JSON.stringify(r.stats)}`);
  }
});

injectTest(`static server: an errno mid-body cuts that response only (seed ${SEEDS[0]})`, async (t) => {
  const seed = SEEDS[0];
  const cases: StaticCase[] = (['EIO', 'ENOMEM', 'EINVAL', 'EPIPE'] as const).map((errno) => ({
    name: errno,
    // Calls move at most 64 KiB, and the 10th call that writes fails: in the middle of some body,
    // whichever method `auto` picked for it (sendfile, or a copy or mmap for this loopback client:
    // those write with send(), as do the headers).
    plan: { seed, short: 1, shortMax: 64 * 1024, calls: ['sendfile64', 'sendfile', 'send'], errno, at: 10 } satisfies Plan,
    requests: [{ file: 'big.bin' }, { file: 'big.bin', range: 'bytes=1000-2000000' }, { file: 'small.bin' }, { file: 'one.bin' }, { file: 'big.bin' }],
  }));
  // An unsupported errno before the first file byte of a body: the headers went, the body falls
  // back to a copy and arrives whole.
  cases.push({
    name: 'EINVAL before the body',
    // The 1st write is the headers' send(), the 2nd the body's first call, whatever the method.
    plan: { errno: 'EINVAL', at: 2, calls: [], errnoCalls: ['sendfile64', 'sendfile', 'send'] },
    requests: [{ file: 'big.bin' }],
  });
  const { results } = await runUnderShim<StaticCaseResult[]>('static-fixture.ts', cases);
  for (const r of results) {
    const label = `${r.name}: ${JSON.stringify(r)}`;
    t.is(total(r.stats, 'errno'), 1, `${label}: injected once`);
    t.true(
      r.responses.every((res) => res.intact),
      `${label}: no wrong byte in any body`,
    );
    const cut = r.responses.filter((res) => !res.complete);
    const failed = r.served.filter((s) => s.error !== undefined);
    if (r.name === 'EINVAL before the body') {
      t.deepEqual(cut, [], label);
      t.is(r.served[0]?.method, 'copy', label);
      continue;
    }
    t.is(cut.length, 1, `${label}: exactly the failed response is cut`);
    t.is(failed.length, 1, label);
    t.is(failed[0]?.error, r.name, label);
    t.true(cut[0].aborted || cut[0].received < cut[0].expected, label);
  }
});
