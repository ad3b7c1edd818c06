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

int rawloop_set(int fd, int n)
{
    for (int i = 0; i < n; i++) {
        int v = 30;
        if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v) != 0)
            return -1;
        v = 7;
        if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof v) != 0)
            return -1;
        v = 4;
        if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof v) != 0)
            return -1;
        v = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) != 0)
            return -1;
    }
    return 0;
}

int rawloop_get(int fd, int n)
{
    long acc = 0;
    for (int i = 0; i < n; i++) {
        int v[5];
        socklen_t len;
        len = sizeof v[0];
        if (getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v[0], &len) != 0)
            return -1;
        len = sizeof v[1];
        if (getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v[1], &len) != 0)
            return -1;
        len = sizeof v[2];
        if (getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v[2], &len) != 0)
            return -1;
        len = sizeof v[3];
        if (getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v[3], &len) != 0)
            return -1;
        len = sizeof v[4];
        if (getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v[4], &len) != 0)
            return -1;
        acc += v[0] + v[1] + v[2] + v[3] + v[4];
    }
    rawloop_sink = acc;
    return 0;
}
