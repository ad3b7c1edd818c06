/*
 * probes: keepalive schedules as libkeepalive computes them, and connections
 * that live by them, for the probe-economy benchmark (bench/probes.sh).
 *
 *   probes plan SPEC...
 *       For each SPEC, one line with its settings and what the kernel's rules
 *       make of them (keepalive_settings_dead_after()):
 *         plan spec=SPEC idle=I interval=N count=C user_timeout_ms=U
 *              dead_idle_ms=M probes_before_death=P busy_ms=B
 *       SPEC is deadline:D (the library's split, keepalive_deadline_schedule())
 *       or set:IDLE:INTERVAL:COUNT:USER_TIMEOUT_MS (as given).
 *   probes conn HOST PORT SPEC
 *       Connects with SPEC applied before connect() (keepalive_set_deadline()
 *       or keepalive_set() + keepalive_set_user_timeout()), exchanges one
 *       byte, reads the settings back and prints
 *         ready port=LOCALPORT idle=I interval=N count=C user_timeout_ms=U t0=T
 *       then stays idle. Every 10 ms it reads the connection's status
 *       (keepalive_get_status()); each time the peer's last ACK is newer than
 *       before (a probe was answered) it prints
 *         ack at=T
 *       and when the connection ends
 *         dead errno=E reason=TEXT last_ack_ms=MS at=T
 *       T are CLOCK_REALTIME seconds, comparable with a capture's timestamps.
 *
 * Exit status: 0 after "dead" (conn) or the plan, 1 on failure, 2 on bad usage.
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <keepalive.h>

#include "common.h"

/* A schedule: a deadline for the library to split, or four values as given. */
struct spec {
    int deadline; /* > 0: keepalive_set_deadline(fd, deadline) */
    keepalive_config config;
    unsigned user_timeout_ms;
};

static void die_lib(const char *what)
{
    fprintf(stderr, "probes: %s: %s\n", what, keepalive_last_error());
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: probes plan SPEC...\n"
                    "       probes conn HOST PORT SPEC\n"
                    "SPEC: deadline:D or set:IDLE:INTERVAL:COUNT:USER_TIMEOUT_MS\n");
    exit(2);
}

/* Seconds since the epoch, CLOCK_REALTIME. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses "deadline:D" or "set:I:N:C:U" into *s; exits with the usage otherwise. */
static void parse_spec(const char *arg, struct spec *s)
{
    int used = 0;
    memset(s, 0, sizeof *s);
    if (sscanf(arg, "deadline:%d%n", &s->deadline, &used) == 1 && arg[used] == '\0' &&
        s->deadline > 0)
        return;
    s->deadline = 0;
    used = 0;
    if (sscanf(arg, "set:%d:%d:%d:%u%n", &s->config.idle, &s->config.interval, &s->config.count,
               &s->user_timeout_ms, &used) == 4 &&
        arg[used] == '\0')
        return;
    usage();
}

/* The four values SPEC stands for, without a socket, into *out. */
static void settings_of(const struct spec *s, keepalive_settings *out)
{
    memset(out, 0, sizeof *out);
    if (s->deadline > 0) {
        if (keepalive_deadline_schedule((uint32_t)s->deadline, 0, out) != 0)
            die_lib("keepalive_deadline_schedule");
    } else {
        out->enabled = 1;
        if (keepalive_config_check(&s->config) != 0)
            die_lib("keepalive_config_check");
        out->idle = s->config.idle;
        out->interval = s->config.interval;
        out->count = s->config.count;
        out->user_timeout_ms = s->user_timeout_ms;
    }
}

/* Prints one plan line per SPEC argument. */
static int plan(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        struct spec s;
        keepalive_settings k;
        keepalive_dead_after d;
        parse_spec(argv[i], &s);
        settings_of(&s, &k);
        if (keepalive_settings_dead_after(&k, &d) != 0)
            die_lib("keepalive_settings_dead_after");
        printf("plan spec=%s idle=%d interval=%d count=%d user_timeout_ms=%u dead_idle_ms=%lld "
               "probes_before_death=%u busy_ms=%lld\n",
               argv[i], k.idle, k.interval, k.count, k.user_timeout_ms, (long long)d.idle_ms,
               d.probes, (long long)d.busy_ms);
    }
    return 0;
}

/* Applies SPEC to the socket fd. */
static void apply(int fd, const struct spec *s)
{
    if (s->deadline > 0) {
        if (keepalive_set_deadline(fd, (uint32_t)s->deadline) != 0)
            die_lib("keepalive_set_deadline");
        return;
    }
    if (keepalive_set(fd, &s->config) != 0)
        die_lib("keepalive_set");
    if (keepalive_set_user_timeout(fd, s->user_timeout_ms) != 0)
        die_lib("keepalive_set_user_timeout");
}

/* Connects with SPEC, reports readiness, answered probes and the end. */
static int conn(const char *host, const char *port_arg, const char *spec_arg)
{
    struct spec s;
    char *end;
    long port = strtol(port_arg, &end, 10);
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (*port_arg == '\0' || *end != '\0' || port < 1 || port > 65535 ||
        inet_pton(AF_INET, host, &a.sin_addr) != 1)
        usage();
    a.sin_port = htons((uint16_t)port);
    parse_spec(spec_arg, &s);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    apply(fd, &s);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("connect");
    char ch = 'x';
    if (write(fd, &ch, 1) != 1 || read(fd, &ch, 1) != 1)
        die("exchange");
    double t0 = now_s();
    keepalive_settings k;
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    if (keepalive_get(fd, &k) != 0)
        die_lib("keepalive_get");
    if (getsockname(fd, (struct sockaddr *)&local, &len) != 0)
        die("getsockname");
    printf("ready port=%u idle=%d interval=%d count=%d user_timeout_ms=%u t0=%.6f\n",
           ntohs(local.sin_port), k.idle, k.interval, k.count, k.user_timeout_ms, t0);
    fflush(stdout);

    double last_ack = t0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 10);
        if (r < 0 && errno != EINTR)
            die("poll");
        if (r > 0) {
            ssize_t n = read(fd, &ch, 1);
            if (n < 0 && errno == EINTR)
                continue;
            int err = n < 0 ? errno : 0;
            double at = now_s();
            keepalive_status st;
            if (keepalive_get_status(fd, &st) != 0)
                die_lib("keepalive_get_status");
            printf("dead errno=%d reason=%s last_ack_ms=%u at=%.6f\n", err,
                   n < 0 ? strerror(err) : n == 0 ? "end of stream" : "unexpected data",
                   st.last_ack_ms, at);
            fflush(stdout);
            close(fd);
            return 0;
        }
        keepalive_status st;
        if (keepalive_get_status(fd, &st) != 0)
            die_lib("keepalive_get_status");
        double ack = now_s() - st.last_ack_ms / 1000.0;
        if (ack > last_ack + 0.05) { /* newer by more than the ms/jiffy jitter */
            last_ack = ack;
            printf("ack at=%.6f\n", ack);
            fflush(stdout);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "plan") == 0)
        return plan(argc - 2, argv + 2);
    if (argc == 5 && strcmp(argv[1], "conn") == 0)
        return conn(argv[2], argv[3], argv[4]);
    usage();
}
