/**
 * Running the `zerosend` command as a user would: `node dist/cli/main.js ...` in its own process.
 *
 * dist/ is a build artifact. `ensureBuilt()` runs `tsc` (what `npm run build:ts` runs) when
 * dist/cli/main.js is missing or older than any file under src/, once per machine at a time (a lock
 * directory keeps parallel test files from building over each other). The native binding is not
 * rebuilt here: `npm run build` does that.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readlinkSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { delay } from './net';

const repo = join(__dirname, '..', '..');
export const cliPath = join(repo, 'dist', 'cli', 'main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  const built = statSync(cliPath, { throwIfNoEntry: false });
  return built !== undefined && built.mtimeMs >= newestSource(join(repo, 'src'));
}

/** Builds dist/ with tsc if it is missing or stale. */
export async function ensureBuilt(): Promise<void> {
  if (isFresh()) return;
  const lock = join(tmpdir(), 'zerosend-build-ts.lock');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Someone else is building; a lock older than two minutes is a leftover.
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 120_000) rmdirSync(lock);
      await delay(200);
    }
  }
  try {
    if (isFresh()) return;
    // tsc emits even when other files of the tree have type errors; only a missing cli/main.js fails.
    spawnSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.json')], {
      stdio: 'ignore',
    });
    if (statSync(cliPath, { throwIfNoEntry: false }) === undefined) throw new Error('tsc did not produce dist/cli/main.js');
  } finally {
    rmdirSync(lock);
  }
}

/** A running `zerosend` process with its output collected. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
    this.child = spawn(process.execPath, [cliPath, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => this.child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves the first match of `pattern` in stdout, waiting for it (rejects if the process exits first). */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const match = pattern.exec(this.stdout);
      if (match) return match;
      if (exited || Date.now() > deadline) {
        throw new Error(`no ${pattern} in the output of zerosend${exited ? ' (it exited)' : ''}:\n${this.stdout}\n${this.stderr}`);
      }
      await delay(25);
    }
  }

  /** Sends `signal` and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** `zerosend serve DIR --port 0 ...`, started and listening (over HTTP, or HTTPS with --tls-*). */
export async function startServe(
  dir: string,
  args: string[] = [],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<{ cli: CliProcess; url: string; port: number }> {
  await ensureBuilt();
  const cli = new CliProcess(['serve', dir, '--port', '0', ...args], options);
  const match = await cli.waitFor(/at (https?:\/\/127\.0\.0\.1:(\d+))/);
  return { cli, url: match[1]!, port: Number(match[2]) };
}

/** Open descriptors of a process (Linux). */
export function descriptorCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** How many of a process's descriptors (Linux; this process's by default) are open on `file`. */
export function descriptorsOn(file: string, pid: number | 'self' = 'self'): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) count += 1;
    } catch {
      // The directory's own descriptor, closed by now.
    }
  }
  return count;
}
