/*
 * A fault-injection shim for zerosend's native engines, loaded with LD_PRELOAD into a child
 * process (the test builds it with the machine's C compiler into a temporary directory).
 *
 * It wraps the libc symbols the binding really imports (check with
 * `objdump -T native/zerosend.linux-x64-gnu.node | grep UND`): sendfile64/sendfile, splice, send,
 * write, writev, pread/pread64, read, recv, mmap/mmap64. Each wrapper injects a fault only when
 *
 *   1. the call comes from the zerosend binding itself (the return address lies in a loaded object
 *      whose path contains ZEROSEND_FAULT_OBJECT, default "zerosend"): Node's own libuv writes, the
 *      test's peer sockets and the fixture's output are never touched;
 *   2. the symbol is selected by the plan (`calls=`);
 *   3. the descriptor is one under test: for data calls a socket or a pipe above stderr (tokio's
 *      eventfd waker, /proc reads and stdio are skipped), for pread a regular file, for mmap a
 *      file mapping (fd >= 0; anonymous mappings are the allocator's).
 *
 * The plan and the statistics live in a small shared file (ZEROSEND_FAULT_CONTROL), so the
 * fixture can change the plan between transfers and read what was injected, with plain fs calls:
 *
 *   bytes [0, 4096)     statistics: u64 little-endian counters, [symbol][kind] (see STAT_* below
 *                       and harness.ts, which must list symbols and kinds in the same order)
 *   bytes [4096, 8192)  u32 generation, then the plan as NUL-terminated text:
 *                       "seed=7 short=0.3 shortmax=4096 eintr=0.1 eagain=0.2
 *                        calls=sendfile64,send errno=EINVAL at=3 times=1 errno_calls=sendfile64"
 *                       A new generation re-reads the plan and restarts the `at` call count.
 *
 * Faults, drawn per call (independently: `eintr`, `eagain` and `short` are separate probabilities)
 * from a counter-based generator seeded by `seed`:
 *   - EINTR: return -1/EINTR without making the call (what a signal before any transfer does).
 *   - EAGAIN: only when the kernel could say so too, i.e. poll() with a zero timeout reports the
 *     output descriptor not writable (or, for reads and socket->pipe splices, the input not
 *     readable). A false EAGAIN on a writable descriptor would be a lie the kernel never tells:
 *     an edge-triggered epoll (tokio's AsyncFd) would never wake the transfer, and the test would
 *     hang for a reason no real system produces. When the descriptor is ready, the draw is counted
 *     as "declined" and the call proceeds. A descriptor that turns ready just after our poll is
 *     safe: the transfer clears its readiness before each attempt, so that edge wakes it.
 *     (`eagain_lie=1` drops the readiness check, to demonstrate the hang; no test relies on it.)
 *   - short count: make the real call with a smaller count (1..min(count, shortmax)): the kernel
 *     then really moves fewer bytes, and the caller must continue from the right offset.
 *   - errno: return -1 with the chosen errno, without making the call, at the `at`-th call (1-based)
 *     of the `errno_calls` symbols since the plan was set, `times` times in a row (0: forever).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- symbols and statistics (keep in step with harness.ts) ---- */

enum sym {
  SYM_SENDFILE64,
  SYM_SENDFILE,
  SYM_SPLICE,
  SYM_SEND,
  SYM_WRITE,
  SYM_WRITEV,
  SYM_PREAD,
  SYM_PREAD64,
  SYM_READ,
  SYM_RECV,
  SYM_MMAP,
  SYM_MMAP64,
  SYM_COUNT
};
static const char *const SYM_NAMES[SYM_COUNT] = {
    "sendfile64", "sendfile", "splice", "send", "write", "writev",
    "pread", "pread64", "read", "recv", "mmap", "mmap64",
};

enum stat_kind {
  STAT_SEEN,          /* calls from the binding on a descriptor under test */
  STAT_SHORT,         /* made with a reduced count */
  STAT_EINTR,         /* answered EINTR */
  STAT_EAGAIN,        /* answered EAGAIN (descriptor really not ready) */
  STAT_DECLINED,      /* EAGAIN drawn, but the descriptor was ready: call made */
  STAT_ERRNO,         /* answered the plan's errno */
  STAT_REAL_EAGAIN,   /* the real call said EAGAIN */
  STAT_BYTES,         /* bytes the real calls reported */
  STAT_KINDS
};

/* glibc exports the LFS names (sendfile64, pread64, mmap64) as symbols of their own; musl has
 * only the plain ones (its headers #define the 64 names to them), so they are wrapped on glibc. */
#ifdef __GLIBC__
#define HAVE_LFS64_SYMBOLS 1
#endif

#define CONTROL_BYTES 8192
#define PLAN_OFFSET 4096

/* ---- the plan ---- */

struct plan {
  uint64_t seed;
  double eintr, eagain, shortrate;
  size_t shortmax;
  unsigned calls;       /* bit per symbol: faults apply */
  unsigned errno_calls; /* bit per symbol: counts towards `at` */
  int err;              /* 0: none */
  int lie;              /* eagain_lie=1: EAGAIN even on a ready descriptor (to show why not) */
  uint64_t at, times;
};

static volatile uint64_t *stats;          /* shared counters, or NULL */
static volatile unsigned char *control;   /* the shared control file mapping */
static uint32_t plan_generation = UINT32_MAX;
static struct plan plan;
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t draws;        /* generator counter */
static _Atomic uint64_t errno_count;  /* calls of errno_calls symbols since the plan was set */
static _Atomic uint64_t errno_given;

static const char *object_name = "zerosend";
static _Atomic uintptr_t object_start, object_end; /* the binding's text, once found */

/* ---- real functions ---- */

#ifdef HAVE_LFS64_SYMBOLS
static ssize_t (*real_sendfile64)(int, int, off64_t *, size_t);
static ssize_t (*real_pread64)(int, void *, size_t, off64_t);
static void *(*real_mmap64)(void *, size_t, int, int, int, off64_t);
#endif
static ssize_t (*real_sendfile)(int, int, off_t *, size_t);
static ssize_t (*real_splice)(int, loff_t *, int, loff_t *, size_t, unsigned);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_recv)(int, void *, size_t, int);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);

#define RESOLVE(name) real_##name = dlsym(RTLD_NEXT, #name)
/* A wrapper can run before our constructor (another library's constructor calling it). */
#define ENSURE(name) \
  if (!real_##name) RESOLVE(name)

static void stat_add(enum sym s, enum stat_kind k, uint64_t n) {
  if (stats) __atomic_fetch_add(&stats[s * STAT_KINDS + k], n, __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void shim_init(void) {
#ifdef HAVE_LFS64_SYMBOLS
  RESOLVE(sendfile64);
  RESOLVE(pread64);
  RESOLVE(mmap64);
#endif
  RESOLVE(sendfile);
  RESOLVE(splice);
  RESOLVE(send);
  RESOLVE(write);
  RESOLVE(writev);
  RESOLVE(pread);
  RESOLVE(read);
  RESOLVE(recv);
  RESOLVE(mmap);
  const char *name = getenv("ZEROSEND_FAULT_OBJECT");
  if (name && *name) object_name = name;
  const char *path = getenv("ZEROSEND_FAULT_CONTROL");
  if (!path || !*path) return;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  void *map = real_mmap(NULL, CONTROL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return;
  control = map;
  stats = map;
}

/* ---- the generator: splitmix64 over a shared counter ---- */

static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t next_random(uint64_t seed) {
  uint64_t n = atomic_fetch_add(&draws, 1);
  return mix(seed + 0x9e3779b97f4a7c15ULL * (n + 1));
}

static double unit(uint64_t r) { return (double)(r >> 11) / 9007199254740992.0; }

/* ---- parsing the plan ---- */

static unsigned parse_symbols(const char *list) {
  unsigned bits = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    for (int i = 0; i < SYM_COUNT; i++)
      if (strcmp(tok, SYM_NAMES[i]) == 0) bits |= 1u << i;
  }
  return bits;
}

static int parse_errno(const char *name) {
  static const struct { const char *name; int value; } known[] = {
      {"EINVAL", EINVAL}, {"ENOSYS", ENOSYS}, {"EOPNOTSUPP", EOPNOTSUPP}, {"EIO", EIO},
      {"ENOMEM", ENOMEM}, {"EPIPE", EPIPE}, {"ECONNRESET", ECONNRESET}, {"EFAULT", EFAULT},
      {"ENOBUFS", ENOBUFS}, {"EBADF", EBADF},
  };
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(name, known[i].name) == 0) return known[i].value;
  return atoi(name);
}

static void parse_plan(const char *text, struct plan *p) {
  memset(p, 0, sizeof *p);
  p->calls = (1u << SYM_COUNT) - 1;
  p->errno_calls = 0;
  p->shortmax = SIZE_MAX;
  p->at = 1;
  p->times = 1;
  int errno_calls_given = 0;
  char buf[PLAN_OFFSET];
  snprintf(buf, sizeof buf, "%s", text);
  for (char *save = NULL, *tok = strtok_r(buf, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) continue;
    *eq = 0;
    const char *key = tok, *value = eq + 1;
    if (!strcmp(key, "seed")) p->seed = strtoull(value, NULL, 10);
    else if (!strcmp(key, "eintr")) p->eintr = atof(value);
    else if (!strcmp(key, "eagain")) p->eagain = atof(value);
    else if (!strcmp(key, "short")) p->shortrate = atof(value);
    else if (!strcmp(key, "shortmax")) p->shortmax = strtoull(value, NULL, 10);
    else if (!strcmp(key, "calls")) p->calls = parse_symbols(value);
    else if (!strcmp(key, "errno")) p->err = parse_errno(value);
    else if (!strcmp(key, "at")) p->at = strtoull(value, NULL, 10);
    else if (!strcmp(key, "eagain_lie")) p->lie = atoi(value);
    else if (!strcmp(key, "times")) p->times = strtoull(value, NULL, 10);
    else if (!strcmp(key, "errno_calls")) p->errno_calls = parse_symbols(value), errno_calls_given = 1;
  }
  if (!errno_calls_given) p->errno_calls = p->calls;
  if (p->shortmax == 0) p->shortmax = 1;
}

/* The current plan; re-read when the fixture bumps the generation. */
static struct plan current_plan(void) {
  struct plan p;
  if (!control) {
    memset(&p, 0, sizeof p);
    return p;
  }
  uint32_t generation;
  memcpy(&generation, (const void *)(control + PLAN_OFFSET), sizeof generation);
  pthread_mutex_lock(&plan_lock);
  if (generation != plan_generation) {
    parse_plan((const char *)(control + PLAN_OFFSET + sizeof generation), &plan);
    plan_generation = generation;
    atomic_store(&errno_count, 0);
    atomic_store(&errno_given, 0);
    atomic_store(&draws, 0);
  }
  p = plan;
  pthread_mutex_unlock(&plan_lock);
  return p;
}

/* ---- which calls are under test ---- */

struct find_object { uintptr_t addr, start, end; };

static int find_segment(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct find_object *f = data;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
    if (f->addr >= start && f->addr < end) {
      f->start = start;
      f->end = end;
      return 1;
    }
  }
  return 0;
}

/* Whether `ret` (a return address) lies in the zerosend binding. */
static int from_binding(void *ret) {
  uintptr_t addr = (uintptr_t)ret;
  uintptr_t start = atomic_load(&object_start), end = atomic_load(&object_end);
  if (start) return addr >= start && addr < end;
  Dl_info info;
  if (!dladdr(ret, &info) || !info.dli_fname || !strstr(info.dli_fname, object_name)) return 0;
  struct find_object f = {addr, 0, 0};
  dl_iterate_phdr(find_segment, &f);
  if (f.start) {
    atomic_store(&object_end, f.end);
    atomic_store(&object_start, f.start);
  }
  return 1;
}

static int fd_type(int fd) {
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return -1;
  return st.st_mode & S_IFMT;
}

/* A socket or pipe the binding moves data through (not stdio, not an eventfd). */
static int stream_under_test(int fd) {
  int type = fd_type(fd);
  return fd > 2 && (type == S_IFSOCK || type == S_IFIFO);
}

static int not_ready(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events};
  int n = poll(&p, 1, 0);
  return n == 0 || (n == 1 && !(p.revents & (events | POLLERR | POLLHUP)));
}

/* ---- the decision ---- */

enum action { PASS, SHORTEN, FAIL };

struct decision {
  enum action action;
  int err;
  size_t count;
};

/*
 * `out_fd`/`in_fd`: descriptors whose readiness decides whether EAGAIN is honest (-1: none).
 * `count`: the byte count asked for. `random_faults`: 0 where only the errno fault applies (mmap).
 */
static struct decision decide(enum sym s, int under_test, int out_fd, int in_fd, size_t count,
                              int random_faults) {
  struct decision d = {PASS, 0, count};
  if (!under_test) return d;
  struct plan p = current_plan();
  if (!(p.calls & (1u << s)) && !(p.errno_calls & (1u << s))) return d;
  stat_add(s, STAT_SEEN, 1);
  if (p.err && (p.errno_calls & (1u << s))) {
    uint64_t n = atomic_fetch_add(&errno_count, 1) + 1;
    if (n >= p.at && (p.times == 0 || atomic_fetch_add(&errno_given, 1) < p.times)) {
      stat_add(s, STAT_ERRNO, 1);
      d.action = FAIL;
      d.err = p.err;
      return d;
    }
  }
  if (!random_faults || !(p.calls & (1u << s))) return d;
  /* Three independent draws: a declined EAGAIN (descriptor ready) may still be shortened. */
  if (unit(next_random(p.seed)) < p.eintr) {
    stat_add(s, STAT_EINTR, 1);
    d.action = FAIL;
    d.err = EINTR;
    return d;
  }
  if (unit(next_random(p.seed)) < p.eagain) {
    int honest = p.lie || (out_fd >= 0 && not_ready(out_fd, POLLOUT)) || (in_fd >= 0 && not_ready(in_fd, POLLIN));
    if (honest) {
      stat_add(s, STAT_EAGAIN, 1);
      d.action = FAIL;
      d.err = EAGAIN;
      return d;
    }
    stat_add(s, STAT_DECLINED, 1);
  }
  if (unit(next_random(p.seed)) < p.shortrate && count > 1) {
    size_t most = count < p.shortmax ? count : p.shortmax;
    d.action = SHORTEN;
    d.count = 1 + (size_t)(next_random(p.seed) % most);
    if (d.count < count) stat_add(s, STAT_SHORT, 1);
  }
  return d;
}

static ssize_t fail(int err) {
  errno = err;
  return -1;
}

static ssize_t account(enum sym s, int under_test, ssize_t n) {
  if (under_test) {
    int saved = errno;
    if (n > 0) stat_add(s, STAT_BYTES, (uint64_t)n);
    if (n < 0 && (saved == EAGAIN || saved == EWOULDBLOCK)) stat_add(s, STAT_REAL_EAGAIN, 1);
    errno = saved;
  }
  return n;
}

/* Only readiness of sockets and pipes says anything; a regular file is always ready. */
static int pollable(int fd) {
  int type = fd_type(fd);
  return (type == S_IFSOCK || type == S_IFIFO) ? fd : -1;
}

/* ---- the wrappers ---- */

#define CALLER __builtin_return_address(0)

#ifdef HAVE_LFS64_SYMBOLS
ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count) {
  ENSURE(sendfile64);
  int t = from_binding(CALLER) && stream_under_test(out_fd);
  struct decision d = decide(SYM_SENDFILE64, t, out_fd, -1, count, 1);
  if (d.action == FAIL) return fail(d.err);
  return account(SYM_SENDFILE64, t, real_sendfile64(out_fd, in_fd, offset, d.count));
}
#endif

ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count) {
  ENSURE(sendfile);
  int t = from_binding(CALLER) && stream_under_test(out_fd);
  struct decision d = decide(SYM_SENDFILE, t, out_fd, -1, count, 1);
  if (d.action == FAIL) return fail(d.err);
  return account(SYM_SENDFILE, t, real_sendfile(out_fd, in_fd, offset, d.count));
}

ssize_t splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len, unsigned flags) {
  ENSURE(splice);
  int t = from_binding(CALLER) && (stream_under_test(fd_in) || stream_under_test(fd_out));
  int in = t ? pollable(fd_in) : -1, out = t ? pollable(fd_out) : -1;
  struct decision d = decide(SYM_SPLICE, t, out, in, len, 1);
  if (d.action == FAIL) return fail(d.err);
  return account(SYM_SPLICE, t, real_splice(fd_in, off_in, fd_out, off_out, d.count, flags));
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
  ENSURE(send);
  int t = from_binding(CALLER) && stream_under_test(fd);
  struct decision d = decide(SYM_SEND, t, fd, -1, len, 1);
  if (d.action == FAIL) return fail(d.err);
  return account(SYM_SEND, t, real_send(fd, buf, d.count, flags));
}

ssize_t write(int fd, const void *buf, size_t count) {
  ENSURE(write);
  int t = from_binding(CALLER) && stream_under_test(fd);
  struct decision d = decide(SYM_WRITE, t, fd, -1, count, 1);
  if (d.action == FAIL) return fail(d.err);
  return account(SYM_WRITE, t, real_write(fd, buf, d.count));
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
  ENSURE(writev);
  int t = from_binding(CALLER) && stream_under_test(fd);
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
  struct decision d = decide(SYM_WRITEV, t, fd, -1, total, 1);
  if (d.action == FAIL) return fail(d.err);
  if (d.action != SHORTEN || d.count >= total || iovcnt <= 0) {
    return account(SYM_WRITEV, t, real_writev(fd, iov, iovcnt));
  }
  /* The same buffers, cut after d.count bytes. */
  struct iovec cut[64];
  int n = 0;
  size_t left = d.count;
  for (int i = 0; i < iovcnt && n < 64 && left > 0; i++) {
    cut[n] = iov[i];
    if (cut[n].iov_len > left) cut[n].iov_len = left;
    left -= cut[n].iov_len;
    n++;
  }
  return account(SYM_WRITEV, t, real_writev(fd, cut, n));
}

ssize_t pread(int fd, void *buf, size_t count, off_t offset) {
  ENSURE(pread);
  int t = from_binding(CALLER) && fd_type(fd) == S_IFREG;
  struct decision d = decide(SYM_PREAD, t, -1, -1, count, 1);
  if (d.action == FAIL) return fail(d.err);
  return account(SYM_PREAD, t, real_pread(fd, buf, d.count, offset));
}

#ifdef HAVE_LFS64_SYMBOLS
ssize_t pread64(int fd, void *buf, size_t count, off64_t offset) {
  ENSURE(pread64);
  int t = from_binding(CALLER) && fd_type(fd) == S_IFREG;
  struct decision d = decide(SYM_PREAD64, t, -1, -1, count, 1);
  if (d.action == FAIL) return fail(d.err);
  return account(SYM_PREAD64, t, real_pread64(fd, buf, d.count, offset));
}
#endif

ssize_t read(int fd, void *buf, size_t count) {
  ENSURE(read);
  int t = from_binding(CALLER) && stream_under_test(fd);
  struct decision d = decide(SYM_READ, t, -1, fd, count, 1);
  if (d.action == FAIL) return fail(d.err);
  return account(SYM_READ, t, real_read(fd, buf, d.count));
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
  ENSURE(recv);
  int t = from_binding(CALLER) && stream_under_test(fd);
  struct decision d = decide(SYM_RECV, t, -1, fd, len, 1);
  if (d.action == FAIL) return fail(d.err);
  return account(SYM_RECV, t, real_recv(fd, buf, d.count, flags));
}

/* mmap: only the errno fault applies (a mapping has no short count, and never says EAGAIN here). */
void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
  ENSURE(mmap);
  int t = fd >= 0 && from_binding(CALLER);
  struct decision d = decide(SYM_MMAP, t, -1, -1, 0, 0);
  if (d.action == FAIL && d.err != EINTR) {
    errno = d.err;
    return MAP_FAILED;
  }
  return real_mmap(addr, length, prot, flags, fd, offset);
}

#ifdef HAVE_LFS64_SYMBOLS
void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off64_t offset) {
  ENSURE(mmap64);
  int t = fd >= 0 && from_binding(CALLER);
  struct decision d = decide(SYM_MMAP64, t, -1, -1, 0, 0);
  if (d.action == FAIL && d.err != EINTR) {
    errno = d.err;
    return MAP_FAILED;
  }
  return real_mmap64(addr, length, prot, flags, fd, offset);
}
#endif
