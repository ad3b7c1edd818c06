/*
 * connloop: N loopback TCP connections made and closed one after the
 * other, for timing what a cgroup's BPF sock_ops program adds to each.
 *
 * Usage: connloop N [--set | --fin]
 *
 * --set: the program sets SO_KEEPALIVE, TCP_KEEPIDLE 2, TCP_KEEPINTVL 1,
 * TCP_KEEPCNT 3 and TCP_USER_TIMEOUT 5000 on both ends itself (what the
 * policy of `attach -D 5` sets), for comparison with the BPF program.
 * --fin: both ends close cleanly (the accepted one first, so that its
 * TIME_WAIT stays on the server's side) instead of the client resetting.
 *
 * One listener on 127.0.0.1; each round: socket(), connect(), accept(),
 * close() of both ends (the client's with SO_LINGER 0, so that no
 * TIME_WAIT is left to run the ephemeral ports out). First prints what a
 * connection's two ends hold, so a caller can check that a policy is in
 * force:
 *   client=<on>/<idle>/<intvl>/<cnt>/<user_timeout_ms> accepted=<same>
 * then times the N rounds with CLOCK_MONOTONIC:
 *   ns=<elapsed>
 * Exit status 1 when a call fails, 2 on bad arguments.
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

static void describe(const char *name, int fd)
{
    printf("%s=%d/%d/%d/%d/%d", name, get_int(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"),
           get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE"),
           get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL"),
           get_int(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT"),
           get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT"));
}

/* What `attach -D 5` sets, set by the program itself: values, then on. */
static void set_policy(int fd)
{
    static const int opts[][3] = {{IPPROTO_TCP, TCP_KEEPIDLE, 2},
                                  {IPPROTO_TCP, TCP_KEEPINTVL, 1},
                                  {IPPROTO_TCP, TCP_KEEPCNT, 3},
                                  {IPPROTO_TCP, TCP_USER_TIMEOUT, 5000},
                                  {SOL_SOCKET, SO_KEEPALIVE, 1}};
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
        if (setsockopt(fd, opts[i][0], opts[i][1], &opts[i][2], sizeof(int)) != 0)
            die("setsockopt");
}

static int set_by_program;
static int clean_close;

/* One connection: returns its client and accepted descriptors. */
static void connect_one(int listener, const struct sockaddr_in *to, int *client, int *accepted)
{
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (*client < 0)
        die("socket");
    if (connect(*client, (const struct sockaddr *)to, sizeof(*to)) != 0)
        die("connect");
    *accepted = accept(listener, NULL, NULL);
    if (*accepted < 0)
        die("accept");
    if (set_by_program) {
        set_policy(*client);
        set_policy(*accepted);
    }
}

static void close_both(int client, int accepted)
{
    if (clean_close) {
        if (close(accepted) != 0 || close(client) != 0)
            die("close");
        return;
    }
    struct linger abort_close = {.l_onoff = 1, .l_linger = 0};
    if (setsockopt(client, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close)) != 0)
        die("SO_LINGER");
    if (close(client) != 0 || close(accepted) != 0)
        die("close");
}

int main(int argc, char **argv)
{
    set_by_program = argc == 3 && strcmp(argv[2], "--set") == 0;
    clean_close = argc == 3 && strcmp(argv[2], "--fin") == 0;
    long n = argc >= 2 ? count_arg(argv[1], LONG_MAX) : -1;
    if (argc > 3 || (argc == 3 && !set_by_program && !clean_close) || n == -1) {
        fprintf(stderr, "usage: connloop N [--set | --fin]\n");
        return 2;
    }
    struct sockaddr_in addr;
    int listener = loopback_listener(&addr, 128);

    int client, accepted;
    connect_one(listener, &addr, &client, &accepted);
    describe("client", client);
    putchar(' ');
    describe("accepted", accepted);
    putchar('\n');
    close_both(client, accepted);

    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        connect_one(listener, &addr, &client, &accepted);
        close_both(client, accepted);
    }
    printf("ns=%lld\n", (long long)(now_ns() - t0));
    return 0;
}
