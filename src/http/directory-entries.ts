/**
 * What a directory listing shows: the entries of one directory that the static server would
 * serve, directories first, then files, each group in natural name order (`file2` before
 * `file10`). One `readdir` and one `stat` per entry, synchronous as the rest of the static server
 * (see `open-files.ts`): 5 000 entries take milliseconds.
 *
 * Left out: dotfiles unless allowed; anything that is neither a regular file nor a directory
 * (FIFOs, sockets, devices: the server never serves them); broken symlinks; and, when the root
 * confines symlinks, every symlink whose target is outside the root — hidden, not shown unlinked,
 * so a listing says nothing about what lies outside (not even a size or a date).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface DirectoryEntry {
  /** The bare name, no trailing `/`. */
  name: string;
  type: 'file' | 'directory';
  /** Bytes, for a file; `null` for a directory (its `st_size` says nothing useful). */
  size: number | null;
  /** Last modification (of the target, for a symlink). */
  mtime: Date;
}

export interface EntryRules {
  /** Show names that start with `.`. */
  dotfiles: boolean;
  /** The root's real path: symlinks resolving outside it are left out. `undefined` follows all. */
  confineTo: string | undefined;
}

/** The entries of `dir`, sorted. Throws what `readdir` throws (ENOENT, EACCES...). */
export function readDirectoryEntries(dir: string, rules: EntryRules): DirectoryEntry[] {
  const entries: DirectoryEntry[] = [];
  for (const dirent of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!rules.dotfiles && dirent.name.startsWith('.')) continue;
    const entry = describeEntry(path.join(dir, dirent.name), dirent, rules.confineTo);
    if (entry !== undefined) entries.push(entry);
  }
  return entries.sort(compareEntries);
}

/** Whether `realPath` is `realRoot` or below it (both real paths, no symlinks left in them). */
export function isInside(realPath: string, realRoot: string): boolean {
  return realPath === realRoot || realPath.startsWith(realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep);
}

function describeEntry(fullPath: string, dirent: fs.Dirent, confineTo: string | undefined): DirectoryEntry | undefined {
  let stat: fs.Stats | undefined;
  try {
    if (dirent.isSymbolicLink() && confineTo !== undefined && !isInside(fs.realpathSync.native(fullPath), confineTo)) return undefined;
    // stat follows a symlink, so a link to a file inside the root is listed as that file.
    stat = fs.statSync(fullPath, { throwIfNoEntry: false });
  } catch {
    // Removed since readdir, a broken or looping link, not ours to stat: not servable either.
    return undefined;
  }
  if (stat === undefined) return undefined;
  if (stat.isDirectory()) return { name: dirent.name, type: 'directory', size: null, mtime: stat.mtime };
  if (stat.isFile()) return { name: dirent.name, type: 'file', size: stat.size, mtime: stat.mtime };
  return undefined;
}

const collator = new Intl.Collator('en', { numeric: true });

function compareEntries(a: DirectoryEntry, b: DirectoryEntry): number {
  if (a.type !== b.type) return a.type === 'directory' ? -1 : 1;
  // The collator calls some different names equal (NFC and NFD forms): code units settle it, so the
  // order never depends on readdir's.
  return collator.compare(a.name, b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
