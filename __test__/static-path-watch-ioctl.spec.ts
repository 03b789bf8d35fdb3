/**
 * The path-watch suite again, with the io_uring counter turned off (`ZEROSEND_IO_URING=0`): every
 * question about a watched path is asked of the kernel (`ioctl(FIONREAD)` on the inotify
 * descriptor), as on kernels where io_uring cannot be used. The variable is read when the first
 * path is watched, which is during the first test, after this line.
 */
process.env.ZEROSEND_IO_URING = '0';

// Registers the suite's tests in this file's process.
import './static-path-watch.spec';
