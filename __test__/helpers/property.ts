/**
 * fast-check settings for the property tests: one seed per test file, printed and in every test's
 * title, so that a failure reproduces with `ZEROSEND_PROPERTY_SEED=<seed> npx ava <file>`
 * (fast-check's own report adds the seed and the shrunk counterexample's path).
 */
import fc from 'fast-check';

/** This process's seed: `ZEROSEND_PROPERTY_SEED`, or a fresh one. */
export const SEED: number = process.env.ZEROSEND_PROPERTY_SEED
  ? Number(process.env.ZEROSEND_PROPERTY_SEED)
  : (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) >>> 0;

console.log(`fast-check seed ${SEED} (rerun with ZEROSEND_PROPERTY_SEED=${SEED})`);

/** fast-check parameters with this run's seed; `numRuns` scaled by ZEROSEND_PROPERTY_RUNS_SCALE. */
export function params<T>(numRuns: number): fc.Parameters<T> {
  const scale = Number(process.env.ZEROSEND_PROPERTY_RUNS_SCALE ?? 1);
  return { seed: SEED, numRuns: Math.max(1, Math.round(numRuns * scale)) };
}

/** Integers where arithmetic breaks: around 0, 2^31, 2^32 and 2^53, each ± a few. */
export const boundaryInteger: fc.Arbitrary<number> = fc
  .tuple(fc.constantFrom(0, 2 ** 31, 2 ** 32, 2 ** 53, Number.MAX_SAFE_INTEGER), fc.integer({ min: -3, max: 3 }))
  .map(([base, delta]) => base + delta);

/** Numbers a caller might pass as a byte count: boundary integers, any double, and the odd ones. */
export const anyByteCount: fc.Arbitrary<number> = fc.oneof(
  boundaryInteger,
  fc.double(),
  fc.integer(),
  fc.maxSafeNat(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 0.5, 2 ** 53 + 2, 2 ** 64, -(2 ** 31)),
);
