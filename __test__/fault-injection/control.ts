/**
 * The shim's control file, from JavaScript: write a fault plan, read what was injected.
 * Used by the test (to create the file and the first plan) and by the child fixtures (to change
 * the plan between transfers). The layout is described at the top of shim.c.
 */
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';

import { tempDir } from '../helpers/net';

/** The wrapped symbols, in shim.c's `enum sym` order. */
export const SYMBOLS = [
  'sendfile64',
  'sendfile',
  'splice',
  'send',
  'write',
  'writev',
  'pread',
  'pread64',
  'read',
  'recv',
  'mmap',
  'mmap64',
] as const;
export type SymbolName = (typeof SYMBOLS)[number];

/** The statistics per symbol, in shim.c's `enum stat_kind` order. */
export const KINDS = ['seen', 'short', 'eintr', 'eagain', 'declined', 'errno', 'realEagain', 'bytes'] as const;
export type Kind = (typeof KINDS)[number];
export type Stats = Partial<Record<SymbolName, Record<Kind, number>>>;

const CONTROL_BYTES = 8192;
const PLAN_OFFSET = 4096;

/**
 * A fault plan. Rates are probabilities per call; `errno` is injected at the `at`-th call (1-based)
 * of the `errnoCalls` symbols, `times` times in a row (0: every call from there on).
 */
export interface Plan {
  seed?: number;
  eintr?: number;
  eagain?: number;
  short?: number;
  /** Largest count a shortened call may keep. */
  shortMax?: number;
  /** Symbols the random faults apply to (default: every wrapped symbol). */
  calls?: readonly SymbolName[];
  errno?: 'EINVAL' | 'ENOSYS' | 'EOPNOTSUPP' | 'EIO' | 'ENOMEM' | 'EPIPE' | 'ECONNRESET';
  at?: number;
  times?: number;
  /** EAGAIN even when the descriptor is ready: a lie the kernel never tells (experiments only). */
  eagainLie?: boolean;
  /** Symbols whose calls count towards `at` (default: `calls`). */
  errnoCalls?: readonly SymbolName[];
}

/** No faults at all (the symbols list is empty, so nothing is even counted). */
export const NO_FAULTS: Plan = { calls: [], errnoCalls: [] };

export function planText(plan: Plan): string {
  const parts: string[] = [];
  const add = (key: string, value: unknown) => {
    if (value !== undefined) parts.push(`${key}=${Array.isArray(value) ? value.join(',') : String(value)}`);
  };
  add('seed', plan.seed);
  add('eintr', plan.eintr);
  add('eagain', plan.eagain);
  add('short', plan.short);
  add('shortmax', plan.shortMax);
  // An empty list must still be written: "calls=" selects no symbol, absence selects all.
  if (plan.calls !== undefined) parts.push(`calls=${plan.calls.join(',')}`);
  add('eagain_lie', plan.eagainLie ? 1 : undefined);
  add('errno', plan.errno);
  add('at', plan.at);
  add('times', plan.times);
  if (plan.errnoCalls !== undefined) parts.push(`errno_calls=${plan.errnoCalls.join(',')}`);
  return parts.join(' ');
}

/** A control file: the plan the shim follows, and its counters. */
export class Control {
  private generation: number;

  /** Opens an existing control file (the child's side), continuing its plan generations. */
  constructor(readonly path: string) {
    const buf = Buffer.alloc(4);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, buf, 0, 4, PLAN_OFFSET);
    } finally {
      closeSync(fd);
    }
    this.generation = buf.readUInt32LE();
  }

  /** Creates (or empties) the file and writes the first plan. */
  static create(path: string, plan: Plan): Control {
    const fd = openSync(path, 'w+');
    writeSync(fd, Buffer.alloc(CONTROL_BYTES));
    closeSync(fd);
    const control = new Control(path);
    control.setPlan(plan);
    return control;
  }

  /** Replaces the plan; the shim picks it up at its next wrapped call. Call between transfers only. */
  setPlan(plan: Plan): void {
    this.generation += 1;
    const text = Buffer.from(`${planText(plan)}\0`);
    const page = Buffer.alloc(CONTROL_BYTES - PLAN_OFFSET);
    text.copy(page, 4);
    // The text first, the generation last: the shim re-reads the plan when the generation changes.
    const fd = openSync(this.path, 'r+');
    try {
      writeSync(fd, page, 4, page.length - 4, PLAN_OFFSET + 4);
      const generation = Buffer.alloc(4);
      generation.writeUInt32LE(this.generation);
      writeSync(fd, generation, 0, 4, PLAN_OFFSET);
    } finally {
      closeSync(fd);
    }
  }

  /** The counters so far (cumulative since the file was created). */
  stats(): Stats {
    const buf = Buffer.alloc(SYMBOLS.length * KINDS.length * 8);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buf, 0, buf.length, 0);
    } finally {
      closeSync(fd);
    }
    const stats: Stats = {};
    SYMBOLS.forEach((symbol, s) => {
      const entry = Object.fromEntries(
        KINDS.map((kind, k) => [kind, Number(buf.readBigUInt64LE((s * KINDS.length + k) * 8))]),
      ) as Record<Kind, number>;
      if (entry.seen > 0) stats[symbol] = entry;
    });
    return stats;
  }
}

/** `after - before`, per symbol and kind. */
export function statsDelta(before: Stats, after: Stats): Stats {
  const delta: Stats = {};
  for (const symbol of SYMBOLS) {
    const a = after[symbol];
    if (!a) continue;
    const b = before[symbol];
    const entry = Object.fromEntries(KINDS.map((kind) => [kind, a[kind] - (b?.[kind] ?? 0)])) as Record<Kind, number>;
    if (entry.seen > 0) delta[symbol] = entry;
  }
  return delta;
}

/** One counter summed over symbols. */
export function total(stats: Stats, kind: Kind, symbols: readonly SymbolName[] = SYMBOLS): number {
  return symbols.reduce((n, symbol) => n + (stats[symbol]?.[kind] ?? 0), 0);
}

/**
 * The entry point of a fixture that runs cases one by one: reads the cases from the file named on
 * the command line, runs each with the control file the harness set up and a scratch directory,
 * and prints the results as one JSON line (exit 0), or the failure (exit 2).
 */
export function runFixture<C, R>(
  scratchPrefix: string,
  runCase: (testCase: C, control: Control, dir: string) => Promise<R>,
): void {
  const main = async (): Promise<void> => {
    const cases = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as C[];
    const controlPath = process.env.ZEROSEND_FAULT_CONTROL;
    if (!controlPath) throw new Error('ZEROSEND_FAULT_CONTROL is not set');
    const control = new Control(controlPath);
    const dir = tempDir(scratchPrefix);
    const results: R[] = [];
    for (const c of cases) results.push(await runCase(c, control, dir));
    process.stdout.write(`${JSON.stringify(results)}\n`);
    process.exit(0);
  };
  main().catch((error: unknown) => {
    process.stderr.write(`fixture failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(2);
  });
}
