/**
 * Opening a file under a confined root so that its path cannot lead out of the root, in one system
 * call (the binding's `openBeneath`: `openat2` with `RESOLVE_BENEATH`, the root followed once,
 * first). The open-file cache otherwise opens the path and then checks where the descriptor really
 * is: a root that is a symlink a deploy repoints (`current -> releases/N`) could move and move
 * back in between. Beneath the folder the root led to when it was opened, no repointed link, `..`
 * or relative symlink can take the walk out, and there is nothing left to check.
 *
 * Linux 5.6 and later, with the binding. An absolute symlink on the way (refused by
 * `RESOLVE_BENEATH` even when it leads back inside), an errno that may come from a seccomp filter,
 * and anything unusual go back to the open-and-check, which then answers as it always has.
 */
import { constants } from 'node:os';

import { native } from '../binding/load';

/** The errnos `openBeneath` answers for the file itself, as a plain open of the path would. */
const FILE_ERRNOS = new Map(
  (['ENOENT', 'ENOTDIR', 'EACCES', 'ENAMETOOLONG'] as const).map((code) => [-constants.errno[code], code]),
);

/** The call does not exist here; every later open checks the old way. */
let unsupported = native === null || process.platform !== 'linux';

/**
 * Opens `fsPath`, a path strictly under `root`: its descriptor, the code of an errno that says the
 * file is missing or unreadable (`ENOENT`, `ENOTDIR`, `EACCES`, `ENAMETOOLONG`), or `undefined`
 * when the caller must open and check the real path itself.
 */
export function openBeneath(root: string, fsPath: string): number | string | undefined {
  if (unsupported || fsPath.length <= root.length + 1 || !fsPath.startsWith(root) || fsPath[root.length] !== '/') return undefined;
  const answer = native!.openBeneath(root, fsPath.slice(root.length + 1));
  if (answer >= 0) return answer;
  if (answer === -constants.errno.ENOSYS) unsupported = true;
  return FILE_ERRNOS.get(answer);
}
