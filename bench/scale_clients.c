/*
 * scale_clients: opens N TCP connections to one server and holds them.
 *
 * Usage: scale_clients HOST PORT N [SOURCE...]
 *
 * Raises RLIMIT_NOFILE as needed, then connects N non-blocking sockets (at
 * most 1000 handshakes in flight, so the server's accept queue never
 * overflows), sends one byte on each and waits for it to come back: a client
 * counts once the server has accepted it and served it. Prints progress lines,
 * then
 *   connected N in S s
 * and then holds every connection, silent, until it is killed: it never sets
 * keepalive itself, so its kernel only answers the server's probes.
 *
 * With SOURCE addresses, the connections take them in turn as their local
 * address (IP_BIND_ADDRESS_NO_PORT: the port is still chosen at connect()),
 * since one source address gives at most one connection per local port to a
 * given server address and port. Every socket has SO_LINGER {on, 0}, so that
 * when the program is killed its connections are reset at once instead of
 * lingering as orphans in FIN_WAIT1 (counted against the machine-wide
 * net.ipv4.tcp_max_orphans).
 * Exit status 1 when a connection fails before all are up, 2 on bad usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#define IN_FLIGHT 1000
#define MAX_SOURCES 64

/* Makes room for n descriptors (root may raise the hard limit too). */
static void raise_nofile(rlim_t n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("getrlimit");
    if (rl.rlim_cur >= n)
        return;
    rl.rlim_cur = n;
    if (rl.rlim_max < n)
        rl.rlim_max = n;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("setrlimit RLIMIT_NOFILE");
}

/*
 * Starts a non-blocking connect to a, from src when src is not NULL, and
 * registers it for writability.
 */
static void start(int ep, const struct sockaddr_in *a, const struct sockaddr_in *src)
{
    int one = 1;
    struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) != 0)
        die("SO_LINGER");
    if (src != NULL &&
        (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0 ||
         bind(fd, (const struct sockaddr *)src, sizeof *src) != 0))
        die("bind to a source address");
    if (connect(fd, (const struct sockaddr *)a, sizeof *a) != 0 && errno != EINPROGRESS)
        die("connect");
    struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        die("epoll_ctl");
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    struct sockaddr_in srcs[MAX_SOURCES];
    int nsrc = argc - 4;
    char *end = NULL;
    long port = argc >= 4 ? strtol(argv[2], &end, 10) : 0;
    long n = argc >= 4 && *end == '\0' ? strtol(argv[3], &end, 10) : 0;
    int ok = argc >= 4 && *end == '\0' && port >= 1 && port <= 65535 && n >= 1 &&
             n <= 1000000 && nsrc <= MAX_SOURCES && inet_pton(AF_INET, argv[1], &a.sin_addr) == 1;
    for (int i = 0; ok && i < nsrc; i++) {
        srcs[i] = (struct sockaddr_in){.sin_family = AF_INET};
        ok = inet_pton(AF_INET, argv[4 + i], &srcs[i].sin_addr) == 1;
    }
    if (!ok) {
        fprintf(stderr, "usage: scale_clients HOST PORT N [SOURCE...] (at most %d)\n",
                MAX_SOURCES);
        return 2;
    }
    a.sin_port = htons((uint16_t)port);
    raise_nofile((rlim_t)n + 64);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");

    int64_t t0 = now_ns();
    long started = 0, done = 0;
    while (started < n && started < IN_FLIGHT) {
        start(ep, &a, nsrc > 0 ? &srcs[started % nsrc] : NULL);
        started++;
    }
    struct epoll_event evs[256];
    while (done < n) {
        int k = epoll_wait(ep, evs, 256, -1);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd;
            char c = 'x';
            if (evs[i].events & EPOLLOUT) {
                int err = 0;
                socklen_t len = sizeof err;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                    errno = err;
                    die("connect");
                }
                if (write(fd, &c, 1) != 1)
                    die("write");
                struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
                if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) != 0)
                    die("epoll_ctl");
            } else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                ssize_t r = read(fd, &c, 1);
                if (r != 1) {
                    if (r == 0)
                        errno = ECONNRESET;
                    die("echo");
                }
                if (epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) != 0)
                    die("epoll_ctl");
                done++;
                if (started < n) {
                    start(ep, &a, nsrc > 0 ? &srcs[started % nsrc] : NULL);
                    started++;
                }
                if (done % 10000 == 0 || done == n) {
                    printf("connected %ld/%ld\n", done, n);
                    fflush(stdout);
                }
            }
        }
    }
    printf("connected %ld in %.3f s\n", n, (double)(now_ns() - t0) / 1e9);
    fflush(stdout);
    for (;;)
        pause();
}
