/*
 * rawloop: the raw syscalls libkeepalive's set and get stand for, in loops,
 * as the baseline of the C benchmark (c_overhead.c) and, loaded with ctypes,
 * as the syscall floor of the Python one (py_overhead.py: one ctypes call per
 * batch, so Python's per-call cost is left out).
 */
#include "rawloop.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

volatile long rawloop_sink; /* keeps the values read observable */

/* One setsockopt of an int; inlined, so each loop below is its syscalls. */
static inline int set1(int fd, int level, int opt, int v)
{
    return setsockopt(fd, level, opt, &v, sizeof v);
}

/* One getsockopt of an int into *v; inlined likewise. */
static inline int get1(int fd, int level, int opt, int *v)
{
    socklen_t len = sizeof *v;
    return getsockopt(fd, level, opt, v, &len);
}

int rawloop_set(int fd, int n)
{
    for (int i = 0; i < n; i++)
        if (set1(fd, IPPROTO_TCP, TCP_KEEPIDLE, 30) != 0 ||
            set1(fd, IPPROTO_TCP, TCP_KEEPINTVL, 7) != 0 ||
            set1(fd, IPPROTO_TCP, TCP_KEEPCNT, 4) != 0 || set1(fd, SOL_SOCKET, SO_KEEPALIVE, 1) != 0)
            return -1;
    return 0;
}

int rawloop_get(int fd, int n)
{
    long acc = 0;
    for (int i = 0; i < n; i++) {
        int v[5];
        if (get1(fd, SOL_SOCKET, SO_KEEPALIVE, &v[0]) != 0 ||
            get1(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v[1]) != 0 ||
            get1(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v[2]) != 0 ||
            get1(fd, IPPROTO_TCP, TCP_KEEPCNT, &v[3]) != 0 ||
            get1(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v[4]) != 0)
            return -1;
        acc += v[0] + v[1] + v[2] + v[3] + v[4];
    }
    rawloop_sink = acc;
    return 0;
}
