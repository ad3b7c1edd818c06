/*
 * What the benchmark programs share (bench/common.c, compiled into each by
 * bench_cc in bench/lib.sh): failing loudly, the monotonic clock, reading
 * one socket option, a loopback listener, a count argument.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <netinet/in.h>
#include <stdint.h>

/* Prints "PROGRAM: what: <strerror(errno)>" on stderr and exits 1. */
void die(const char *what);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t now_ns(void);

/* The int socket option level/opt of fd; dies naming `name` when it cannot
 * be read. */
int get_int(int fd, int level, int opt, const char *name);

/* Sets the int socket option level/opt of fd to v; dies naming `name` when
 * the kernel refuses. */
void set_int(int fd, int level, int opt, int v, const char *name);

/* A TCP listener on 127.0.0.1 with a port the kernel picks; *addr gets its
 * address, to connect to. Dies when it cannot be made. */
int loopback_listener(struct sockaddr_in *addr, int backlog);

/* s as a whole number in 1..max; -1 when it is anything else. */
long count_arg(const char *s, long max);

#endif
