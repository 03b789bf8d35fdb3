/*
 * LD_PRELOAD shim for the benchmarks' `--cc=NAME` (bench/congestion.mjs): every TCP socket that
 * listens or connects in the benchmark's processes gets congestion control $ZEROSEND_BENCH_CC
 * (accepted sockets inherit the listener's), whatever the system default, without root and
 * without touching other processes. Loopback has no qdisc, so BBR's pacing is done by TCP itself
 * with a timer, and that changes which method is fastest (README.md, "Choosing a method").
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* TCP only: a unix stream socket has no congestion control (setsockopt says EOPNOTSUPP). */
static int is_tcp(int fd) {
  int type = 0, domain = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return 0;
  len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return 0;
  return domain == AF_INET || domain == AF_INET6;
}

static void use_congestion_control(int fd) {
  const char *name = getenv("ZEROSEND_BENCH_CC");
  int saved = errno;
  if (!name || !is_tcp(fd)) {
    errno = saved;
    return;
  }
  if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, strlen(name)) != 0) {
    static int warned;
    if (!warned++) fprintf(stderr, "congestion-shim: TCP_CONGESTION %s: %s\n", name, strerror(errno));
  }
  errno = saved;
}

int listen(int fd, int backlog) {
  static int (*real)(int, int);
  if (!real) real = (int (*)(int, int))dlsym(RTLD_NEXT, "listen");
  use_congestion_control(fd);
  return real(fd, backlog);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  static int (*real)(int, const struct sockaddr *, socklen_t);
  if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
  use_congestion_control(fd);
  return real(fd, addr, len);
}
