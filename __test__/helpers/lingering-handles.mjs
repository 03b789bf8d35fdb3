/**
 * Loaded into every ava worker (package.json, ava.nodeArguments). Once a test file's tests are
 * done, ava waits for that file's process to exit by itself; a server, socket, timer or child
 * process a test left open keeps it alive, and the whole run then waits for ever: ava's own
 * timeout only covers tests still running. (A CI run once stalled for 90 minutes after every
 * test of the fallback pass had reported; what held it was never seen. This names it.)
 *
 * So: when ava is done with the file, give what is still open a grace period to close, then
 * name it on stderr (a line starting `lingering:`, which scripts/test.mjs repeats in its summary)
 * and end the process. Every test of the file has reported by then, so this changes no test's
 * outcome: the run goes on, and whatever stalled it has a name. Set ZEROSEND_TEST_LINGER_FAIL=1
 * to make such a file fail instead (exit 1: ava reports it as a crash of that file).
 *
 * ava exports `registerCompletionHandler` only to ESM test files, and only once its runner is
 * set up; ours are CommonJS, so this imports the module it lives in by its file path (the same
 * module instance ava's worker calls, since both resolve to one file URL).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const GRACE_MS = Number(process.env.ZEROSEND_TEST_LINGER_MS ?? 15_000);
const FAIL = process.env.ZEROSEND_TEST_LINGER_FAIL === '1';

const require = createRequire(import.meta.url);
const ava = dirname(dirname(require.resolve('ava')));
const { registerCompletionHandler } = await import(pathToFileURL(join(ava, 'lib', 'worker', 'completion-handlers.js')).href);

registerCompletionHandler(() => {
  const timer = setTimeout(() => {
    const files = Object.keys(require.cache).filter((file) => /\.spec\.[cm]?[jt]s$/.test(file));
    const resources = process.getActiveResourcesInfo().filter((name) => name !== 'Timeout');
    process.stderr.write(
      `\nlingering: ${files.join(', ') || 'a test file'} still ran ${GRACE_MS} ms after its tests were done, ` +
        `open: ${resources.join(', ') || 'nothing Node can name'}\n`,
    );
    process.exit(FAIL ? 1 : 0);
  }, GRACE_MS);
  // Only a guard: it must not be what keeps the process alive.
  timer.unref();
});
