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
  // ENOSPC (the user's watch limit), ENOENT (the path changed meanwhile), ENOSYS: stat() instead.
  return id >= 0 ? id : UNWATCHED;
}

/** Whether nothing touched the path since it was trusted (a watched path only). */
export function pathUnchanged(id: number): boolean {
  return native!.pathUnchanged(id);
}

/** Trusts the path: a `stat()` made after its watches were in place (and after any `pathUnchanged`) found it unchanged. */
export function trustPath(id: number): void {
  native!.trustPath(id);
}

export function unwatchPath(id: number): void {
  native!.unwatchPath(id);
}
