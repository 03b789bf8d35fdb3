/**
 * Change notification for the open-file cache (open-files.ts): a cached file whose path is
 * *trusted* is answered without the `stat()` that otherwise checks it on every request.
 *
 * The binding's `PathWatch` (crates/zerosend-core/src/path_watch.rs) puts an inotify watch on the
 * file and on every folder from `/` down to it. A path is trusted from a `stat()` made after its
 * watches were in place until an event touches the file or one of the names on its way (a rewrite,
 * a truncate, a rename over it or over a folder above it, a removal, a chmod or touch); the cache
 * then opens the path afresh. The kernel queues that event inside the system call that makes the
 * change, so a request that arrives after a change always finds it queued. Asking costs one
 * `ioctl(FIONREAD)` on the inotify descriptor, no path walk: 0.6–0.8 µs a call from JavaScript
 * against 2.0–2.6 µs for the `stat()` it replaces (README, *Against the node:http floor*).
 *
 * Most requests do not even ask: an io_uring poll on the inotify descriptor moves a counter in
 * memory the kernel shares with this thread (crates/zerosend-core/src/change_ring.rs), and while
 * it reads what it read when a path was last found unchanged, nothing has been queued since. The
 * kernel moves it before this thread next returns from a system call — the `read` that brings in
 * a request sent after the change included — so it is as fresh as the `ioctl`. Where io_uring
 * cannot be used (old kernels, seccomp, `kernel.io_uring_disabled`, `ZEROSEND_IO_URING=0`), every
 * request asks.
 *
 * Symlinks on the way are followed as the kernel follows them, and the names they go through are
 * watched as well, so swapping a `current -> releases/N` link withdraws the trust like any rename.
 * Only on Linux with the binding; elsewhere every path is checked with `stat()` on every request.
 * inotify does not see writes through a shared `mmap()`, changes made by another host on a network
 * file system, or a mount over a folder on the way; for those, the cache still checks a trusted
 * path with a `stat()` once a second (open-files.ts, `TRUST_MS`).
 */
import { native } from '../binding/load';

/** A path that is not watched: it is checked with `stat()` on every request. */
export const UNWATCHED = -1;

/** Whether paths can be watched in this process at all. */
export const canWatch = native !== null && process.platform === 'linux';

/** Starts watching `path` (absolute, normalized): its id, or `UNWATCHED`. */
export function watchPath(path: string): number {
  if (native === null) return UNWATCHED;
  const id = native.watchPath(path);
  if (counter === undefined) counter = counterAllowed() ? native.pathChangeCounter() : null;
  // ENOSPC (the user's watch limit), ENOENT (the path changed meanwhile), ENOSYS: stat() instead.
  return id >= 0 ? id : UNWATCHED;
}

/** A watched path as its cache entry holds it. */
export interface Watched {
  /** Its id, from `watchPath`. */
  watch: number;
  /** The change counter's value when the path was last found unchanged, or `NOT_QUIET`. */
  quiet: number;
}

/** A `quiet` no counter value equals: the next question goes to the binding. */
export const NOT_QUIET = -1;

/**
 * The change counter: one word of the kernel's memory (`null` when there is none or it stopped;
 * `undefined` until the first path is watched).
 */
let counter: Uint32Array | null | undefined;

/**
 * Whether to read the kernel's counter: not when the user turned it off, and only on Node. The
 * counter is memory the binding lends JavaScript (an external ArrayBuffer) and must never free or
 * copy, which is how Node treats it; other runtimes' N-API layers have differed there.
 */
function counterAllowed(): boolean {
  return process.env.ZEROSEND_IO_URING !== '0' && process.versions.bun === undefined && process.versions.deno === undefined;
}

/** Whether nothing touched the path since it was trusted (a watched path only). */
export function pathUnchanged(path: Watched): boolean {
  if (counter != null && path.quiet === counter[0]) return true;
  const answer = native!.pathCheck(path.watch);
  if (answer >= 0) {
    path.quiet = answer;
    return true;
  }
  path.quiet = NOT_QUIET;
  // -2 / -3: the counter stopped (or never was): values already handed out must not be trusted.
  if (answer < -1) counter = null;
  return answer === -2;
}

/** Trusts the path: a `stat()` made after its watches were in place (and after any `pathUnchanged`) found it as cached. */
export function trustPath(id: number): void {
  native!.trustPath(id);
}

/** Whether questions are answered from the kernel's counter (for tests and benchmarks). */
export function usesChangeCounter(): boolean {
  return counter != null;
}

export function unwatchPath(id: number): void {
  native!.unwatchPath(id);
}
