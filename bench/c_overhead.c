/*
 * c_overhead: what libkeepalive's C calls cost beside the raw syscalls they
 * stand for, on a connected loopback TCP socket.
 *
 *   keepalive_set(fd, {30, 7, 4})  vs  setsockopt TCP_KEEPIDLE, TCP_KEEPINTVL,
 *                                      TCP_KEEPCNT, SO_KEEPALIVE
 *   keepalive_get(fd, &s)          vs  getsockopt SO_KEEPALIVE, TCP_KEEPIDLE,
 *                                      TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT
 *
 * The raw side is rawloop.c, shared with the Python benchmark.
 *
 * Usage: c_overhead [ROUNDS [BATCH]]   (defaults 201 rounds of 1000 calls)
 *
 * Each round times one batch of library calls and one batch of raw calls
 * (CLOCK_MONOTONIC around the batch), alternating which goes first, and keeps
 * the ratio library/raw; the figure is the median ratio over the rounds, so
 * the machine's load, shared by both halves of a round, cancels out.
 *
 * Prints progress on stderr and, on stdout, one tab-separated line per figure:
 *   ROW <figure> <measured> <target> PASS|MISS
 * Exit status 1 when a call fails or the library did not set what it says.
 */
#define _POSIX_C_SOURCE 200809L

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <keepalive.h>

#include "common.h"
#include "rawloop.h"

#define TARGET 1.05

static volatile int64_t sink; /* keeps read values observable */

/* Returns a TCP socket connected over loopback; *peer gets the accepted end. */
static int connected_socket(int *peer)
{
    struct sockaddr_in a;
    int lfd = loopback_listener(&a, 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("connect on loopback");
    *peer = accept(lfd, NULL, NULL);
    if (*peer < 0)
        die("accept");
    close(lfd);
    return fd;
}

/* The library path: n calls of keepalive_set(fd, {30, 7, 4}). */
static void lib_set(int fd, int n)
{
    const keepalive_config c = {.idle = 30, .interval = 7, .count = 4};
    for (int i = 0; i < n; i++)
        if (keepalive_set(fd, &c) != 0)
            die("keepalive_set");
}

/* The raw path keepalive_set stands for (rawloop.c), checked as real code checks. */
static void raw_set(int fd, int n)
{
    if (rawloop_set(fd, n) != 0)
        die("raw setsockopt");
}

/* The library path: n calls of keepalive_get. */
static void lib_get(int fd, int n)
{
    int64_t acc = 0;
    for (int i = 0; i < n; i++) {
        keepalive_settings s;
        if (keepalive_get(fd, &s) != 0)
            die("keepalive_get");
        acc += s.enabled + s.idle + s.interval + s.count + s.user_timeout_ms;
    }
    sink = acc;
}

/* The five raw reads keepalive_get stands for (rawloop.c). */
static void raw_get(int fd, int n)
{
    if (rawloop_get(fd, n) != 0)
        die("raw getsockopt");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Times lib and raw interleaved for `rounds` rounds of `batch` calls each and
 * prints the median ratio as a ROW line, with each path's median ns per call.
 */
static void compare(const char *figure, void (*lib)(int, int), void (*raw)(int, int), int fd,
                    int rounds, int batch)
{
    double *ratio = calloc((size_t)rounds, sizeof *ratio);
    double *lib_ns = calloc((size_t)rounds, sizeof *lib_ns);
    double *raw_ns = calloc((size_t)rounds, sizeof *raw_ns);
    if (!ratio || !lib_ns || !raw_ns)
        die("calloc");
    lib(fd, batch); /* warm caches and the lazy PLT binding */
    raw(fd, batch);
    for (int r = 0; r < rounds; r++) {
        /* Each goes first in every other round: neither always finds the
         * caches the other one warmed. */
        int lib_first = r % 2 == 0;
        void (*first)(int, int) = lib_first ? lib : raw;
        void (*second)(int, int) = lib_first ? raw : lib;
        int64_t t0 = now_ns();
        first(fd, batch);
        int64_t t1 = now_ns();
        second(fd, batch);
        int64_t t2 = now_ns();
        double first_ns = (double)(t1 - t0) / batch, second_ns = (double)(t2 - t1) / batch;
        lib_ns[r] = lib_first ? first_ns : second_ns;
        raw_ns[r] = lib_first ? second_ns : first_ns;
        ratio[r] = lib_ns[r] / raw_ns[r];
        if ((r + 1) % 10 == 0 || r + 1 == rounds)
            fprintf(stderr, "   %s: round %d/%d\n", figure, r + 1, rounds);
    }
    double m = median(ratio, rounds);
    double ml = median(lib_ns, rounds), mr = median(raw_ns, rounds);
    printf("ROW\t%s\t%.3fx (%.0f vs %.0f ns)\t<= %.2fx\t%s\n", figure, m, ml, mr, TARGET,
           m <= TARGET ? "PASS" : "MISS");
    fflush(stdout);
    free(ratio);
    free(lib_ns);
    free(raw_ns);
}

/* Checks that keepalive_set and keepalive_get do what they stand for. */
static void check_real(int fd)
{
    set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0, "SO_KEEPALIVE");
    set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 100, "TCP_KEEPIDLE");
    set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 50, "TCP_KEEPINTVL");
    set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 9, "TCP_KEEPCNT");
    set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 1234, "TCP_USER_TIMEOUT");
    keepalive_settings s;
    if (keepalive_get(fd, &s) != 0)
        die("keepalive_get");
    if (s.enabled || s.idle != 100 || s.interval != 50 || s.count != 9 ||
        s.user_timeout_ms != 1234) {
        fprintf(stderr, "c_overhead: keepalive_get read %d %d %d %d %u, set 0 100 50 9 1234\n",
                (int)s.enabled, (int)s.idle, (int)s.interval, (int)s.count,
                (unsigned)s.user_timeout_ms);
        exit(1);
    }
    lib_set(fd, 1);
    int on = get_int(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE");
    int idle = get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE");
    int intvl = get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL");
    int cnt = get_int(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT");
    if (!on || idle != 30 || intvl != 7 || cnt != 4) {
        fprintf(stderr, "c_overhead: after keepalive_set read %d %d %d %d, want 1 30 7 4\n", on,
                idle, intvl, cnt);
        exit(1);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: c_overhead [ROUNDS [BATCH]]\n");
    exit(2);
}

/* Parses a count argument (1..10,000,000) or exits 2 with the usage message. */
static int arg(const char *s)
{
    long v = count_arg(s, 10000000);
    if (v == -1)
        usage();
    return (int)v;
}

int main(int argc, char **argv)
{
    if (argc > 3)
        usage();
    int rounds = argc > 1 ? arg(argv[1]) : 201;
    int batch = argc > 2 ? arg(argv[2]) : 1000;
    int peer;
    int fd = connected_socket(&peer);
    check_real(fd);
    fprintf(stderr, "   libkeepalive %s: %d rounds of %d calls, interleaved\n", keepalive_version(),
            rounds, batch);
    compare("C keepalive_set vs 4 setsockopt", lib_set, raw_set, fd, rounds, batch);
    compare("C keepalive_get vs 5 getsockopt", lib_get, raw_get, fd, rounds, batch);
    close(fd);
    close(peer);
    return 0;
}
