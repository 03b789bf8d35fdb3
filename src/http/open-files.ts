/**
 * Finding and opening the file behind a path, with a small cache of open descriptors (like
 * nginx's `open_file_cache`).
 *
 * Every lookup costs one `stat()` of the path, cache or not: a hit is only used while the path
 * still names the same file (device, inode, size, mtime, ctime), so a file that was rewritten,
 * replaced (rename over it) or deleted is reopened or reported missing at once, never served
 * stale. What a hit saves is open + fstat + the symlink check + close, and the header strings.
 *
 * The file system calls are synchronous, as nginx's are: on a local disk they cost microseconds,
 * far less than a round trip through libuv's thread pool.
 *
 * Descriptors are reference-counted: an entry evicted while a transfer still reads it is closed
 * when that transfer releases it, so a descriptor number is never reused under a running transfer.
 */
import * as fs from 'node:fs';

import { isInside } from './directory-entries';
import { isProbedVersion, probe, sameVersion } from './file-version';

/** An open file, shared by the requests that serve it. */
export interface OpenFile {
  /** The path it was opened by. */
  readonly path: string;
  readonly fd: number;
  /** `fstat()` of the descriptor at open time: the version being served. */
  readonly stat: fs.Stats;
  /** Derived header values, computed once per open file (see `representation.ts`). */
  etag?: string;
  lastModified?: string;
  contentType?: string;
  /** A small file's bytes (see `smallFileContent`); `null` once reading them did not work out. */
  content?: Buffer | null;
  /** The headers of a plain whole-file answer, for the door settings they were made for (see
   * `file-response.ts`). */
  plainHeaders?: { for: unknown; headers: Readonly<Record<string, string | number>> };
}

interface Entry extends OpenFile {
  users: number;
  /** Still reachable from the cache map; when not, the last release closes it. */
  cached: boolean;
  /** Used since the last idle sweep. */
  recent: boolean;
}

export type Lookup =
  | { kind: 'file'; file: OpenFile }
  | { kind: 'directory' }
  /** Absent, or not a regular file (FIFOs, devices and sockets are never served); `code` is the
   * errno where one said so (`ENOENT`, `ENOTDIR`...). */
  | { kind: 'missing'; code?: string }
  /** Not readable by this process (`code`: `EACCES`, `EPERM`), or a symlink that resolves outside
   * the root. */
  | { kind: 'forbidden'; code?: string };

const DIRECTORY: Lookup = { kind: 'directory' };
const MISSING: Lookup = { kind: 'missing' };
const ABSENT: Lookup = { kind: 'missing', code: 'ENOENT' };
const FORBIDDEN: Lookup = { kind: 'forbidden' };

// O_NONBLOCK: opening a FIFO someone put under the root must not block the event loop.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);
const MISSING_CODES = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP']);
const FORBIDDEN_CODES = new Set(['EACCES', 'EPERM']);
/** The errnos a lookup answers (missing or forbidden); any other is thrown to the door. */
const LOOKUP_CODES = new Set([...MISSING_CODES, ...FORBIDDEN_CODES]);

export class OpenFiles {
  private readonly entries = new Map<string, Entry>();
  private sweeper: NodeJS.Timeout | undefined;
  private realRoot: string | undefined;

  /**
   * @param root the served folder
   * @param max entries kept open; 0 disables caching (open and close per request)
   * @param idleMs an entry unused for this long (up to twice) is closed
   * @param confine refuse files whose real path leaves the root (symlinks)
   */
  constructor(
    private readonly root: string,
    private readonly max: number,
    private readonly idleMs: number,
    private readonly confine: boolean,
  ) {}

  /** Stats `fsPath`; for a regular file, returns it open. Every `file` result must be `release()`d. */
  lookup(fsPath: string): Lookup {
    const kind = probe(fsPath, LOOKUP_CODES);
    if (kind !== 'file') {
      if (kind === 'directory') return DIRECTORY;
      if (kind === 'other') return MISSING;
      if (kind.code === 'ENOENT') {
        this.forget(fsPath);
        return ABSENT;
      }
      return classifyCode(kind.code);
    }

    const cached = this.entries.get(fsPath);
    if (cached !== undefined) {
      if (isProbedVersion(cached.stat)) {
        cached.users += 1;
        cached.recent = true;
        return { kind: 'file', file: cached };
      }
      this.forget(fsPath);
    }
    return this.open(fsPath);
  }

  /** The request is done with the file. */
  release(file: OpenFile): void {
    const entry = file as Entry;
    if (entry.users <= 0) return;
    entry.users -= 1;
    if (entry.users === 0 && !entry.cached) fs.close(entry.fd, () => {});
  }

  /** Drops a file that misbehaved (e.g. was truncated while being sent): the next lookup reopens it. */
  invalidate(file: OpenFile): void {
    if (this.entries.get(file.path) === file) this.forget(file.path);
  }

  /** Closes every descriptor not in use (those in use close on release). */
  close(): void {
    for (const key of [...this.entries.keys()]) this.forget(key);
    this.stopSweeping();
  }

  private open(fsPath: string): Lookup {
    let fd: number;
    try {
      fd = fs.openSync(fsPath, OPEN_FLAGS);
    } catch (error) {
      return classify(error);
    }
    let stat: fs.Stats;
    try {
      stat = fs.fstatSync(fd);
      if (!stat.isFile()) {
        fs.closeSync(fd);
        return MISSING;
      }
      if (this.confine && !this.inside(realPathOf(fd, fsPath))) {
        fs.closeSync(fd);
        return FORBIDDEN;
      }
    } catch (error) {
      fs.closeSync(fd);
      return classify(error);
    }
    const entry: Entry = { path: fsPath, fd, stat, users: 1, cached: this.max > 0, recent: true };
    if (entry.cached) this.remember(entry);
    return { kind: 'file', file: entry };
  }

  private remember(entry: Entry): void {
    this.entries.set(entry.path, entry);
    if (this.entries.size > this.max) {
      // Map order is insertion order: the first key is the oldest.
      const oldest = this.entries.keys().next().value as string;
      this.forget(oldest);
    }
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(() => this.sweep(), this.idleMs);
      this.sweeper.unref();
    }
  }

  private forget(fsPath: string): void {
    const entry = this.entries.get(fsPath);
    if (entry === undefined) return;
    this.entries.delete(fsPath);
    entry.cached = false;
    if (entry.users === 0) fs.close(entry.fd, () => {});
    if (this.entries.size === 0) this.stopSweeping();
  }

  private sweep(): void {
    for (const [key, entry] of this.entries) {
      if (!entry.recent && entry.users === 0) this.forget(key);
      else entry.recent = false;
    }
  }

  private stopSweeping(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private inside(realPath: string): boolean {
    if (this.realRoot !== undefined && isInside(realPath, this.realRoot)) return true;
    // Resolved again before refusing: the root (or a folder above it) may be a symlink that a
    // deploy has since pointed at a new release (`ln -sfn releases/2 current`).
    this.realRoot = fs.realpathSync.native(this.root);
    return isInside(realPath, this.realRoot);
  }
}

/**
 * Where the open descriptor really is. On Linux `/proc/self/fd/N` names the file that was opened,
 * so no symlink swapped in between a check and the open can fool it.
 */
function realPathOf(fd: number, fsPath: string): string {
  if (process.platform === 'linux') {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      // /proc not mounted: fall through.
    }
  }
  return fs.realpathSync.native(fsPath);
}

/**
 * Files up to this size are answered from memory: headers and body in one `writev`, as a server
 * that holds the file in memory answers. For such a file the zero-copy path costs more than the
 * copy it saves — a header send, a sendfile, and a size check on each side of it, plus a call
 * into the binding — and the bytes are in the page cache either way. Measured in
 * `bench/http.mjs` (README, *Performance*).
 */
export const SMALL_FILE_BYTES = 16 * 1024;

/**
 * The bytes of a small file, read once per cached version (the cache revalidates the version with
 * a `stat()` on every lookup, so a changed file is reread, never served stale). A read during
 * which the file changed is thrown away: a writer in the middle would have torn it.
 */
export function smallFileContent(file: OpenFile): Buffer | undefined {
  if (file.content !== undefined) return file.content ?? undefined;
  const size = file.stat.size;
  if (size > SMALL_FILE_BYTES) return undefined;
  // Not from the shared pool: the buffer lives as long as the cache entry.
  const content = Buffer.allocUnsafeSlow(size);
  let read = 0;
  try {
    while (read < size) {
      const n = fs.readSync(file.fd, content, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    file.content = read === size && sameVersion(fs.fstatSync(file.fd), file.stat) ? content : null;
  } catch {
    // EIO and the like: the zero-copy path will meet the error and report it on this response.
    file.content = null;
  }
  return file.content ?? undefined;
}

function classify(error: unknown): Lookup {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (LOOKUP_CODES.has(code)) return classifyCode(code);
  throw error;
}

/** A lookup's answer for an errno that says missing or forbidden. */
function classifyCode(code: string): Lookup {
  return FORBIDDEN_CODES.has(code) ? { kind: 'forbidden', code } : { kind: 'missing', code };
}

/** The caches `sharedOpenFiles` hands out, by symlink rule then root, least recently used first. */
const shared = { confined: new Map<string, OpenFiles>(), any: new Map<string, OpenFiles>() };
const SHARED_ROOTS = 64;

/**
 * A process-wide open-file cache for `root`, for the doors that answer one request with one file
 * (`sendFile`, `reply.sendFile`, Koa's `send`): a file an app sends again and again is opened once.
 * A root beyond the 64 most recently used of its kind closes the least recently used cache (its
 * files in use close on release).
 */
export function sharedOpenFiles(root: string, confine: boolean): OpenFiles {
  const caches = confine ? shared.confined : shared.any;
  let files = caches.get(root);
  if (files !== undefined) {
    // Most recently used last, so the root evicted below is the least recently used one.
    caches.delete(root);
    caches.set(root, files);
  } else {
    files = new OpenFiles(root, 256, 30_000, confine);
    caches.set(root, files);
    if (caches.size > SHARED_ROOTS) {
      const [oldest, cache] = caches.entries().next().value as [string, OpenFiles];
      caches.delete(oldest);
      cache.close();
    }
  }
  return files;
}
