/**
 * Finding and opening the file behind a path, with a small cache of open descriptors (like
 * nginx's `open_file_cache`).
 *
 * A hit is only used while the path still names the same file (device, inode, size, mtime,
 * ctime), so a file that was rewritten, replaced (rename over it) or deleted is reopened or
 * reported missing at once, never served stale. Checking that costs a `stat()` of the path — on
 * every lookup, except for a file requested again whose path is watched (path-watch.ts): while no
 * change event has touched it, the kernel has already said that nothing changed (and a `stat()`
 * once a second covers what inotify cannot see). What a hit saves is open + fstat + the symlink
 * check + close, and the header strings.
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
import { openBeneath } from './open-beneath';
import { canWatch, NOT_QUIET, pathUnchanged, trustPath, UNWATCHED, unwatchPath, watchPath, type Watched } from './path-watch';

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

interface Entry extends OpenFile, Watched {
  users: number;
  /** Still reachable from the cache map; when not, the last release closes it. */
  cached: boolean;
  /** Used since the last idle sweep. */
  recent: boolean;
  /** Its path's id in path-watch.ts, `UNWATCHED`, or `WATCH_WHEN_REUSED`. */
  watch: number;
  /** When a watched path's trust runs out (`performance.now()` ms). */
  trustedUntil: number;
}

/**
 * A watched path is checked with a `stat()` at least this often all the same, so that what
 * inotify cannot report (writes through a shared `mmap()`, another host's changes on a network
 * file system, a mount over a folder on the way) is seen within a second: one `stat()` per second
 * per file being requested, where it was one per request.
 */
const TRUST_MS = 1000;

/** A cached file: watched once it is requested again, so that a file served once costs no watches. */
const WATCH_WHEN_REUSED = -2;

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

  /**
   * What `fsPath` names now (a `stat()`, unless its watch says nothing changed); a regular file is
   * returned open. Every `file` result must be `release()`d.
   */
  lookup(fsPath: string): Lookup {
    let cached = this.entries.get(fsPath);
    if (cached !== undefined && cached.watch >= 0) {
      if (pathUnchanged(cached)) {
        // Past its time, trust is renewed by the stat below.
        if (performance.now() < cached.trustedUntil) return this.hit(cached);
      } else {
        // Something touched the file or a name on its way. Whatever the stat below says, the path
        // is opened afresh: a symlink on the way may lead elsewhere now (out of the root, even:
        // the open checks again), or the bytes may have changed within one tick of the file
        // system's clock (same size and times).
        this.forget(fsPath);
        cached = undefined;
      }
    }
    // Watched before the stat below, so that a change after the stat leaves an event behind.
    if (cached?.watch === WATCH_WHEN_REUSED) cached.watch = watchPath(fsPath);

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

    if (cached !== undefined) {
      if (isProbedVersion(cached.stat)) {
        if (cached.watch >= 0) {
          trustPath(cached.watch);
          cached.trustedUntil = performance.now() + TRUST_MS;
        }
        return this.hit(cached);
      }
      this.forget(fsPath);
    }
    return this.open(fsPath);
  }

  private hit(entry: Entry): Lookup {
    entry.users += 1;
    entry.recent = true;
    return { kind: 'file', file: entry };
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

  /** @param retries opens left if the root seems to have moved (see below) */
  private open(fsPath: string, retries = 2): Lookup {
    // Confined: opened beneath the root where the kernel can, and then inside by construction.
    const beneath = this.confine ? openBeneath(this.root, fsPath) : undefined;
    if (typeof beneath === 'string') return classifyCode(beneath);
    let fd: number;
    try {
      fd = beneath ?? fs.openSync(fsPath, OPEN_FLAGS);
    } catch (error) {
      return classify(error);
    }
    const cache = this.max > 0;
    let stat: fs.Stats;
    let outside: boolean;
    try {
      stat = fs.fstatSync(fd);
      outside = stat.isFile() && this.confine && beneath === undefined && !this.inside(realPathOf(fd, fsPath));
    } catch (error) {
      fs.closeSync(fd);
      return classify(error);
    }
    if (!stat.isFile() || outside) {
      fs.closeSync(fd);
      if (!outside) return MISSING;
      // A root that is a symlink a deploy repoints (`current -> releases/N`) may have moved
      // between the open and the check, and back: then the file, opened through one release, is
      // checked against the other. Opened again, through where the root points now, before
      // refusing; a file really outside the root is refused on every try.
      return retries > 0 ? this.open(fsPath, retries - 1) : FORBIDDEN;
    }
    // Symlinks on the way are watched too; while the path stays trusted, none of them changed
    // since it was checked, so the confinement above still holds.
    const watch = cache && canWatch ? WATCH_WHEN_REUSED : UNWATCHED;
    const entry: Entry = { path: fsPath, fd, stat, users: 1, cached: cache, recent: true, watch, quiet: NOT_QUIET, trustedUntil: 0 };
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
    if (entry.watch >= 0) unwatchPath(entry.watch);
    entry.watch = UNWATCHED;
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
    // A root with no symlink on its path is its own real path: a real path under it is inside the
    // folder there now, however long ago that was resolved.
    if (this.realRoot === this.root && isInside(realPath, this.root)) return true;
    // Otherwise resolved for every file opened. A root reached through a symlink (`current ->
    // releases/N`) may point at a new release since: a real path inside the release it pointed at
    // before is outside it now (a link planted in the new release that leads into the old one).
    // And a plain root may have been replaced by a symlink since.
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
 * The bytes of a small file, read once per cached version (the cache revalidates the version on
 * every lookup, so a changed file is reread, never served stale). A read during which the file
 * changed is thrown away: a writer in the middle would have torn it.
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

/** The caches `sharedOpenFiles` hands out for one symlink rule: by root, least recently used first. */
interface SharedCaches {
  byRoot: Map<string, OpenFiles>;
  /** The most recently used root: the last key of `byRoot`. */
  newest: string | undefined;
}
const shared = {
  confined: { byRoot: new Map(), newest: undefined } as SharedCaches,
  any: { byRoot: new Map(), newest: undefined } as SharedCaches,
};
const SHARED_ROOTS = 64;

/**
 * A process-wide open-file cache for `root`, for the doors that answer one request with one file
 * (`sendFile`, `reply.sendFile`, Koa's `send`): a file an app sends again and again is opened once.
 * A root beyond the 64 most recently used of its kind closes the least recently used cache (its
 * files in use close on release).
 */
export function sharedOpenFiles(root: string, confine: boolean): OpenFiles {
  const caches = confine ? shared.confined : shared.any;
  // Most calls name the root the previous call named: it is already the most recently used.
  if (root === caches.newest) return caches.byRoot.get(root)!;
  let files = caches.byRoot.get(root);
  if (files !== undefined) {
    // Most recently used last, so the root evicted below is the least recently used one.
    caches.byRoot.delete(root);
    caches.byRoot.set(root, files);
  } else {
    files = new OpenFiles(root, 256, 30_000, confine);
    caches.byRoot.set(root, files);
    if (caches.byRoot.size > SHARED_ROOTS) {
      const [oldest, cache] = caches.byRoot.entries().next().value as [string, OpenFiles];
      caches.byRoot.delete(oldest);
      cache.close();
    }
  }
  caches.newest = root;
  return files;
}
