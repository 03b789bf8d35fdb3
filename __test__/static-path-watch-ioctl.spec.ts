/**
 * The path-watch suite again, with the io_uring counter turned off (`ZEROSEND_IO_URING=0`): every
 * question about a watched path is asked of the kernel (`ioctl(FIONREAD)` on the inotify
 * descriptor), as on kernels where io_uring cannot be used. The variable is read when the first
 * path is watched, which is during the first test, after this line.
 *
 * On the stream fallback nothing is watched: this pass would only repeat static-path-watch.spec.ts,
 * so it skips there, saying so.
 */
import { fallbackReason } from '../src/binding/load';
import { hasNative } from './helpers/native';
import { testUnless } from './helpers/skip';

process.env.ZEROSEND_IO_URING = '0';

if (hasNative) {
  // Registers the suite's tests in this file's process.
  require('./static-path-watch.spec');
} else {
  const reason = `nothing is watched on the stream fallback (${fallbackReason}); static-path-watch.spec.ts covers it`;
  testUnless(reason)('the path-watch suite with ZEROSEND_IO_URING=0', () => {});
}
