/**
 * The test side of fault injection: builds shim.c with the machine's C compiler (once per
 * content, into the OS temp dir — the .so is never part of the repository), and runs a fixture
 * script in a child process with the shim in LD_PRELOAD (it must be there when the process starts)
 * and a fresh control file.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { tempDir } from '../helpers/net';
import { Control, NO_FAULTS } from './control';

const SHIM_SOURCE = join(__dirname, 'shim.c');

/**
 * Path of the compiled shim; compiles it if this source was not compiled yet. Safe when several
 * test files build at once: each compiles to its own name and renames into place.
 */
export function buildShim(): string {
  const source = readFileSync(SHIM_SOURCE);
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'zerosend-fault-shim');
  const so = join(dir, `shim-${digest}.so`);
  if (existsSync(so)) return so;
  mkdirSync(dir, { recursive: true });
  const partial = `${so}.${process.pid}.tmp`;
  const cc = process.env.CC ?? 'gcc';
  execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-o', partial, SHIM_SOURCE, '-ldl', '-lpthread'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  renameSync(partial, so);
  return so;
}

/** Whether this machine can run the suite: Linux with glibc and a C compiler. */
export function canInject(): { ok: true } | { ok: false; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: 'LD_PRELOAD fault injection is Linux-only' };
  try {
    execFileSync(process.env.CC ?? 'gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return { ok: false, why: 'no C compiler (gcc) on this machine' };
  }
  return { ok: true };
}

/** At most `limit` children at once: the machine is small, and each child is a whole Node. */
class Slots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
    try {
      return await job();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }
}
const slots = new Slots(Number(process.env.ZEROSEND_FAULT_CHILDREN ?? 2));

export interface ChildRun<T> {
  results: T;
  stderr: string;
}

/**
 * Runs `fixture` (a .ts file next to this one) under the shim with `cases` as its input, and
 * returns the JSON it printed. Rejects with the child's stderr if it crashed or printed no JSON.
 */
export function runUnderShim<T>(fixture: string, cases: unknown, env: Record<string, string> = {}): Promise<ChildRun<T>> {
  return slots.run(
    () =>
      new Promise<ChildRun<T>>((resolve, reject) => {
        const dir = tempDir('zs-fault-run-');
        const input = join(dir, 'cases.json');
        writeFileSync(input, JSON.stringify(cases));
        const control = join(dir, 'control');
        Control.create(control, NO_FAULTS);
        const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, fixture), input], {
          env: {
            ...process.env,
            ...env,
            LD_PRELOAD: buildShim(),
            ZEROSEND_FAULT_CONTROL: control,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('error', reject);
        child.on('close', (code, signal) => {
          rmSync(dir, { recursive: true, force: true });
          const line = stdout.trim().split('\n').pop() ?? '';
          if (code !== 0 || !line.startsWith('[')) {
            reject(new Error(`fixture ${fixture} exited with ${signal ?? code}\nstdout: ${stdout}\nstderr: ${stderr}`));
            return;
          }
          resolve({ results: JSON.parse(line) as T, stderr });
        });
      }),
  );
}

/**
 * The seeds of this run: `ZEROSEND_FAULT_SEEDS` (comma-separated) to reproduce a failure, else two
 * fixed seeds and one new per run, so CI keeps exploring. Printed by the tests that use them.
 */
export function seeds(): number[] {
  const given = process.env.ZEROSEND_FAULT_SEEDS;
  if (given) return given.split(',').map((s) => Number(s.trim()));
  return [1, 2, Math.floor(Math.random() * 2 ** 31)];
}
