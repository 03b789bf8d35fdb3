/**
 * Loaded into every ava worker (package.json, ava.nodeArguments). Once a test file's tests are
 * done, ava waits for that file's process to exit by itself; a server, socket, timer or child
 * process a test left open keeps it alive, and the whole run then waits for ever: ava's own
 * timeout only covers tests still running. A CI run once stalled past its 90 minutes that way,
 * after the last test had passed.
 *
 * So: when ava is done with the file, give what is still open a grace period to close, then
 * name it on stderr and exit 1. ava reports "<file> exited with a non-zero exit code: 1", the run
 * fails where it stalled, and the leak has a name.
 *
 * ava exports `registerCompletionHandler` only to ESM test files, and only once its runner is
 * set up; ours are CommonJS, so this imports the module it lives in by its file path (the same
 * module instance ava's worker calls, since both resolve to one file URL).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const GRACE_MS = Number(process.env.ZEROSEND_TEST_LINGER_MS ?? 15_000);

const require = createRequire(import.meta.url);
const ava = dirname(dirname(require.resolve('ava')));
const { registerCompletionHandler } = await import(pathToFileURL(join(ava, 'lib', 'worker', 'completion-handlers.js')).href);

registerCompletionHandler(() => {
  const timer = setTimeout(() => {
    const files = Object.keys(require.cache).filter((file) => /\.spec\.[cm]?[jt]s$/.test(file));
    const resources = process.getActiveResourcesInfo().filter((name) => name !== 'Timeout');
    process.stderr.write(
      `\n${files.join(', ') || 'a test file'}: still running ${GRACE_MS} ms after its tests were done; ` +
        `open: ${resources.join(', ') || 'nothing Node can name'}. A test left something open.\n`,
    );
    process.exit(1);
  }, GRACE_MS);
  // Only a guard: it must not be what keeps the process alive.
  timer.unref();
});
