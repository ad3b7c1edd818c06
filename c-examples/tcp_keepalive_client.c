/*
 * tcp_keepalive_client: connect to a TCP server with keepalive on, then wait
 * until the connection ends, saying why and when.
 *
 *   tcp_keepalive_client [-c CNT] [-d IDLE] [-i INTVL] [-u USER_TIMEOUT_MS] [-D DEADLINE] [-w]
 *                        HOST:PORT
 *
 * The port of the article's client (after tcpkatest), on libkeepalive: -d sets
 * TCP_KEEPIDLE, -i TCP_KEEPINTVL, -c TCP_KEEPCNT, -u TCP_USER_TIMEOUT; an option
 * left out keeps the system default. -D DEADLINE sets all four at once, so that
 * a silent peer is declared dead DEADLINE seconds after it was last heard from,
 * idle or busy (keepalive_set_deadline); it cannot be combined with the other
 * four. HOST is an IPv4 address, a bracketed IPv6 address ([::1]:5050) or a
 * name. Once connected the program sends nothing (with -w, 16 bytes every
 * 0.1 s): it polls and reads until the peer closes (exit 0) or the kernel
 * declares the connection dead (exit 1), printing once a second how long until
 * then while the peer is overdue, and at the end the reason and how long ago
 * data and an ACK were last received. Bad arguments print a usage message
 * (exit 2) before anything is done.
 *
 * Values are checked, keepalive set and the kernel's liveness read only
 * through libkeepalive: the ranges, the rules between the values, the
 * deadline's split and when the kernel declares a peer dead are the
 * library's to know, not this program's. The options are read, and the
 * timestamped lines written, by cli.c, shared with the server.
 */
#include "cli.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
    SAMPLE_MS = 1000,     /* the liveness is read once a second */
    WRITE_MS = 100,       /* -w: 16 bytes every 0.1 s */
    OVERDUE_ACK_MS = 1000 /* data unacknowledged for a second: the peer is overdue */
};

const char *const progname = "tcp_keepalive_client";

/* What to connect to and which keepalive values to set (-1: not given, the
 * system default stays). */
struct client_params {
    char host[256];
    char port[8];
    keepalive_request request;   /* -c -d -i -u -D, checked by the library */
    keepalive_settings schedule; /* with -D: its split, from the library */
    int busy;                    /* -w: keep writing */
};

/* Prints the usage message on out. */
void print_usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-c CNT] [-d IDLE] [-i INTVL] [-u USER_TIMEOUT_MS] [-D DEADLINE] [-w]"
            " HOST:PORT\n"
            "  -c CNT              TCP_KEEPCNT: unanswered probes before the peer is dead\n"
            "  -d IDLE             TCP_KEEPIDLE: idle seconds before the first probe\n"
            "  -i INTVL            TCP_KEEPINTVL: seconds between probes\n"
            "  -u USER_TIMEOUT_MS  TCP_USER_TIMEOUT: milliseconds sent data may stay\n"
            "                      unacknowledged (0: the kernel's default)\n"
            "  -D DEADLINE         dead-peer deadline: the peer is declared dead DEADLINE\n"
            "                      seconds after it was last heard from, idle or busy; sets\n"
            "                      TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT\n"
            "                      together, so it cannot be given with -d, -i, -c or -u\n"
            "  -w                  keep the connection busy: send 16 bytes every 0.1 s\n"
            "  -h, --help          this text, on stdout (exit status 0)\n"
            "  HOST:PORT           192.0.2.1:5050, [2001:db8::1]:5050 or example.org:5050\n"
            "Values are whole numbers, checked by libkeepalive before anything is done;\n"
            "an option left out keeps the system default.\n",
            progname);
}

/*
 * Splits "HOST:PORT" or "[IPV6]:PORT" into params->host and params->port.
 * Returns 0, or -1 when the text is not of that form or PORT is not 1..65535.
 */
static int parse_hostport(const char *text, struct client_params *params)
{
    const char *host = text, *colon, *port;
    size_t hostlen;
    long portnum;

    if (text[0] == '[') {
        const char *bracket = strchr(text, ']');
        if (bracket == NULL || bracket[1] != ':')
            return -1;
        host = text + 1;
        hostlen = (size_t)(bracket - host);
        port = bracket + 2;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || memchr(text, ':', (size_t)(colon - text)) != NULL)
            return -1; /* no port, or an IPv6 address without brackets */
        hostlen = (size_t)(colon - text);
        port = colon + 1;
    }
    if (hostlen == 0 || hostlen >= sizeof params->host)
        return -1;
    portnum = parse_integer(port, 1, 65535);
    if (portnum == -1)
        return -1;
    memcpy(params->host, host, hostlen);
    params->host[hostlen] = '\0';
    snprintf(params->port, sizeof params->port, "%ld", portnum);
    return 0;
}

/* Returns the monotonic clock in milliseconds. */
static long long now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Formats a socket address as "192.0.2.1:5050" or "[2001:db8::1]:5050". */
static void format_address(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, outlen, "(unknown address)");
        return;
    }
    snprintf(out, outlen, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

/*
 * Applies the requested keepalive values to fd through libkeepalive (the
 * deadline, or the knobs and the user timeout given). Returns 0; on failure
 * prints libkeepalive's sentence and returns -1 with errno set.
 */
static int apply_keepalive(int fd, const struct client_params *params)
{
    if (keepalive_set_request(fd, &params->request) == -1) {
        int saved = errno;
        fprintf(stderr, "%s: keepalive_set_request: %s\n", progname, keepalive_last_error());
        errno = saved;
        return -1;
    }
    return 0;
}

/* Prints a knob just set: the number given, or the system default it kept
 * (-1: not given), as read back from the socket. */
static void print_setting(const char *name, int64_t given, int32_t effective)
{
    if (given != -1)
        printf("set %-16s = %lld\n", name, (long long)given);
    else
        printf("set %-16s = system default (%d)\n", name, effective);
}

/* Prints the values just set on fd (after they were set, not before). */
static void print_set(int fd, const struct client_params *params)
{
    const keepalive_request *r = &params->request;
    const keepalive_settings *d = &params->schedule;
    keepalive_settings s = { false, 0, 0, 0, 0 };

    printf("set %-16s = 1\n", "SO_KEEPALIVE");
    if (r->deadline != -1) {
        printf("set deadline %lld s: TCP_KEEPIDLE %d, TCP_KEEPINTVL %d, TCP_KEEPCNT %d, "
               "TCP_USER_TIMEOUT %u ms\n",
               (long long)r->deadline, d->idle, d->interval, d->count, d->user_timeout_ms);
        return;
    }
    if (keepalive_get(fd, &s) == -1)
        fprintf(stderr, "%s: keepalive_get: %s\n", progname, keepalive_last_error());
    print_setting("TCP_KEEPIDLE", r->idle, s.idle);
    print_setting("TCP_KEEPCNT", r->count, s.count);
    print_setting("TCP_KEEPINTVL", r->interval, s.interval);
    if (r->user_timeout_ms != -1)
        printf("set %-16s = %lld ms%s\n", "TCP_USER_TIMEOUT", (long long)r->user_timeout_ms,
               r->user_timeout_ms == 0 ? " (the kernel's default)" : "");
}

/*
 * Connects fd to addr, waiting for the handshake to finish even if a signal
 * interrupts connect(). Returns 0, or -1 with errno set.
 */
static int connect_blocking(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    socklen_t errlen = sizeof(int);
    int err = 0;

    if (connect(fd, addr, len) == 0)
        return 0;
    if (errno != EINTR)
        return -1;
    /* The handshake goes on in the kernel: wait for it, then ask how it went. */
    while (poll(&pfd, 1, -1) == -1)
        if (errno != EINTR)
            return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) == -1)
        return -1;
    errno = err;
    return err == 0 ? 0 : -1;
}

/*
 * Resolves the host and connects to the first address that answers, with
 * keepalive set before connecting (and the values printed once set). Returns
 * the connected descriptor, or -1 when no address could be reached.
 */
static int connect_with_keepalive(const struct client_params *params)
{
    struct addrinfo hints, *res, *ai;
    char addr[NI_MAXHOST + NI_MAXSERV + 4];
    int fd = -1, rc, printed = 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    rc = getaddrinfo(params->host, params->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n", progname, params->host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        format_address(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr);
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd == -1) {
            fprintf(stderr, "%s: socket for %s: %s\n", progname, addr, strerror(errno));
            continue;
        }
        if (apply_keepalive(fd, params) == -1) {
            close(fd);
            fd = -1;
            continue;
        }
        if (!printed) {
            print_set(fd, params);
            printed = 1;
        }
        log_time("connecting to %s", addr);
        if (connect_blocking(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            log_time("connected to %s", addr);
            break;
        }
        log_time("connect to %s failed: %s", addr, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/*
 * Prints the keepalive values the kernel now uses for fd, read back, and what
 * the kernel will do with them (keepalive_settings_dead_after: a set
 * TCP_USER_TIMEOUT replaces TCP_KEEPCNT for an idle connection too).
 */
static void print_effective(int fd)
{
    keepalive_settings s;

    if (keepalive_get(fd, &s) == -1) {
        fprintf(stderr, "%s: reading keepalive back: %s\n", progname, keepalive_last_error());
        return;
    }
    printf("keepalive %s: idle %d s, interval %d s, count %d, TCP_USER_TIMEOUT %u ms (read "
           "back)\n",
           s.enabled ? "on" : "OFF", s.idle, s.interval, s.count, s.user_timeout_ms);
    if (s.enabled && print_dead_after("peer", &s) == -1)
        fprintf(stderr, "%s: reading keepalive back: %s\n", progname, keepalive_last_error());
}

/*
 * Prints why the connection ended (err: an errno value) and how long ago data
 * and an ACK were last received, read at once (keepalive_get_status).
 */
static void report_end(int fd, int err)
{
    keepalive_status st;

    if (keepalive_get_status(fd, &st) == -1) {
        log_time("connection lost: %s (last receive times unavailable: %s)", strerror(err),
                 keepalive_last_error());
        return;
    }
    log_time("connection lost: %s (last data received %.3f s ago, last ACK received "
             "%.3f s ago)",
             strerror(err), st.last_data_ms / 1000.0, st.last_ack_ms / 1000.0);
}

/*
 * Reads the connection's liveness and prints it while the peer is overdue:
 * keepalive probes out unanswered, or sent data unacknowledged for a second.
 * Prints one line more when the peer is heard from again. *overdue carries
 * the state from one call to the next.
 */
static void report_liveness(int fd, int *overdue)
{
    keepalive_status st;
    uint32_t silent;
    int now_overdue;

    if (keepalive_get_status(fd, &st) == -1)
        return; /* the connection is ending: the next read says why */
    silent = st.last_ack_ms < st.last_data_ms ? st.last_ack_ms : st.last_data_ms;
    now_overdue = st.probes_out > 0 || (st.unacked > 0 && st.last_ack_ms >= OVERDUE_ACK_MS);
    if (now_overdue && st.dead_in_ms < 0)
        return; /* no longer a connection: it just ended, and the next read says why */
    if (now_overdue && st.unacked > 0)
        log_time("peer silent %.3f s: %u segment%s unacknowledged, dead in %.3f s",
                 silent / 1000.0, st.unacked, st.unacked == 1 ? "" : "s",
                 (double)st.dead_in_ms / 1000.0);
    else if (now_overdue)
        log_time("peer silent %.3f s: %u probe%s out, dead in %.3f s", silent / 1000.0,
                 st.probes_out, st.probes_out == 1 ? "" : "s", (double)st.dead_in_ms / 1000.0);
    else if (*overdue)
        log_time("peer heard from again (last ACK %.3f s ago)", st.last_ack_ms / 1000.0);
    *overdue = now_overdue;
}

/*
 * -w: sends 16 bytes without waiting. Returns 0 (also when the socket is
 * full), or -1 with errno set when the connection has failed.
 */
static int send_some(int fd, unsigned long long n)
{
    char msg[17];

    snprintf(msg, sizeof msg, "busy %10llu\n", n % 10000000000ULL);
    if (send(fd, msg, 16, MSG_NOSIGNAL | MSG_DONTWAIT) == -1 && errno != EAGAIN &&
        errno != EWOULDBLOCK && errno != EINTR)
        return -1;
    return 0;
}

/*
 * Waits on the connected socket, printing each read and, once a second, the
 * liveness while the peer is overdue (with busy, sending all along), until the
 * peer closes (returns 0) or the connection fails (returns -1 after
 * report_end).
 */
static int wait_until_closed(int fd, int busy)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    long long now = now_ms(), next_sample = now + SAMPLE_MS, next_write = now, wake;
    unsigned long long sent = 0;
    char buf[4096];
    int overdue = 0, rc;
    ssize_t n;

    for (;;) {
        wake = busy && next_write < next_sample ? next_write : next_sample;
        rc = poll(&pfd, 1, wake > now ? (int)(wake - now) : 0);
        if (rc == -1 && errno != EINTR) {
            report_end(fd, errno);
            return -1;
        }
        if (rc > 0) {
            n = read(fd, buf, sizeof buf);
            if (n > 0) {
                log_time("read %zd bytes", n);
            } else if (n == 0) {
                log_time("connection closed by peer");
                return 0;
            } else if (errno != EINTR && errno != EAGAIN) {
                report_end(fd, errno);
                return -1;
            }
        }
        now = now_ms();
        if (busy && now >= next_write) {
            if (send_some(fd, sent++) == -1) {
                report_end(fd, errno);
                return -1;
            }
            next_write = next_write + WRITE_MS > now ? next_write + WRITE_MS : now + WRITE_MS;
        }
        if (now >= next_sample) {
            report_liveness(fd, &overdue);
            next_sample = next_sample + SAMPLE_MS > now ? next_sample + SAMPLE_MS
                                                        : now + SAMPLE_MS;
        }
    }
}

int main(int argc, char *argv[])
{
    struct client_params params;
    int fd, rv;

    setvbuf(stdout, NULL, _IOLBF, 0);
    setvbuf(stderr, NULL, _IOLBF, 0);
    memset(&params, 0, sizeof params);
    if (keepalive_request_init(&params.request, sizeof params.request) == -1) {
        fprintf(stderr, "%s: keepalive_request_init: %s\n", progname, keepalive_last_error());
        return EXIT_FAILURE;
    }

    /* Every option is checked (by libkeepalive) before anything is done. */
    while (next_option(argc, argv, ":c:d:i:u:D:wh", &params.request, &params.schedule) != -1)
        params.busy = 1; /* -w, the one option of the client's own */
    if (optind != argc - 1)
        bad_argument(optind > argc - 1 ? "missing HOST:PORT" : "too many arguments");
    if (parse_hostport(argv[optind], &params) == -1)
        bad_argument("invalid HOST:PORT: \"%s\"", argv[optind]);

    printf("going to connect to %s port %s\n", params.host, params.port);
    fd = connect_with_keepalive(&params);
    if (fd == -1)
        return EXIT_FAILURE;
    print_effective(fd);
    rv = wait_until_closed(fd, params.busy);
    close(fd);
    return rv == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
