/**
 * What a path names right now, for the open-file cache's check of a lookup (open-files.ts; a
 * watched path skips it while path-watch.ts reports no change): its kind, and the fields that tell
 * one version of a file from another.
 *
 * With the native binding, `statVersion` makes the same `stat(2)` call as `fs.statSync` and hands
 * back plain numbers, where `fs.statSync` also builds a `Stats` object with four `Date`s in it:
 * 0.90× the cost of a check (`node bench/stat.mjs`; README, *Against the node:http floor*).
 * Without the binding, `fs.statSync`. Either way, an error a lookup does not expect is reported
 * by `fs.statSync` itself, so it reaches the caller as Node's own error (code, syscall, path).
 */
import * as fs from 'node:fs';
import { getSystemErrorName } from 'node:util';

import { native } from '../binding/load';

export type PathKind = 'file' | 'directory' | 'other';

/** The fields of a `stat` that tell one version of a file from another (an `fs.Stats` has them). */
export interface FileVersion {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** `probe`'s answer for an errno the caller expects: its name (`ENOENT`, `ENOTDIR`, `EACCES`...). */
export interface ProbeFailure {
  code: string;
}

/** The version `probe` last read: valid until the next call (one object, never reallocated). */
const current: FileVersion = { dev: 0, ino: 0, size: 0, mtimeMs: 0, ctimeMs: 0 };
const fields = new Float64Array(8);
const KINDS: readonly PathKind[] = ['other', 'file', 'directory', 'other'];
const ABSENT: ProbeFailure = { code: 'ENOENT' };

/**
 * Stats `path` (symlinks followed). A kind, whose version `isProbedVersion` compares; a
 * `ProbeFailure` for an errno in `expected`; any other error throws, as `fs.statSync` throws it.
 */
export function probe(path: string, expected: ReadonlySet<string>): PathKind | ProbeFailure {
  if (native !== null) {
    const errno = native.statVersion(path, fields);
    if (errno === 0) {
      current.dev = fields[1]!;
      current.ino = fields[2]!;
      current.size = fields[3]!;
      // Node's own formula (msFromTimeSpec), so the result equals the `fs.Stats` field exactly.
      current.mtimeMs = fields[4]! * 1e3 + fields[5]! / 1e6;
      current.ctimeMs = fields[6]! * 1e3 + fields[7]! / 1e6;
      return KINDS[fields[0]!] ?? 'other';
    }
    const code = getSystemErrorName(-errno);
    if (expected.has(code)) return code === 'ENOENT' ? ABSENT : { code };
  }
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(path, { throwIfNoEntry: false });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined && expected.has(code)) return { code };
    throw error;
  }
  if (stat === undefined) return ABSENT;
  current.dev = stat.dev;
  current.ino = stat.ino;
  current.size = stat.size;
  current.mtimeMs = stat.mtimeMs;
  current.ctimeMs = stat.ctimeMs;
  return stat.isFile() ? 'file' : stat.isDirectory() ? 'directory' : 'other';
}

/** Whether `stat` (an open file's `fstat()`) is the version the last `probe` read. */
export function isProbedVersion(stat: fs.Stats): boolean {
  return sameVersion(stat, current);
}

/** Whether two stats of a file are of the same version of it. */
export function sameVersion(a: FileVersion, b: FileVersion): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}
