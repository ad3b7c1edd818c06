/*
 * tcp_keepalive_client: connect to a TCP server with keepalive on, then wait
 * until the connection ends, saying why and when.
 *
 *   tcp_keepalive_client [-c CNT] [-d IDLE] [-i INTVL] [-u USER_TIMEOUT_MS] HOST:PORT
 *
 * The port of the article's client (after tcpkatest), on libkeepalive: -d sets
 * TCP_KEEPIDLE, -i TCP_KEEPINTVL, -c TCP_KEEPCNT, -u TCP_USER_TIMEOUT; an option
 * left out keeps the system default. HOST is an IPv4 address, a bracketed IPv6
 * address ([::1]:5050) or a name. Once connected the program sends nothing: it
 * polls and reads until the peer closes (exit 0) or the kernel declares the
 * connection dead (exit 1), and then prints the reason and how long ago data
 * and an ACK were last received. Bad arguments print a usage message (exit 2).
 *
 * Keepalive is set only through libkeepalive; TCP_INFO is read for the report.
 */
#include <keepalive.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_USAGE = 2 };

static const char *progname = "tcp_keepalive_client";

/* What to connect to and which keepalive values to set (0 = system default). */
struct client_params {
    char host[256];
    char port[8];
    keepalive_config config;
    uint32_t user_timeout_ms;
};

/* Prints the usage message on out. */
static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-c CNT] [-d IDLE] [-i INTVL] [-u USER_TIMEOUT_MS] HOST:PORT\n"
            "  -c CNT              TCP_KEEPCNT: unanswered probes before the peer is dead\n"
            "  -d IDLE             TCP_KEEPIDLE: idle seconds before the first probe\n"
            "  -i INTVL            TCP_KEEPINTVL: seconds between probes\n"
            "  -u USER_TIMEOUT_MS  TCP_USER_TIMEOUT: milliseconds sent data may stay unacknowledged\n"
            "  -h, --help          this text, on stdout (exit status 0)\n"
            "  HOST:PORT           192.0.2.1:5050, [2001:db8::1]:5050 or example.org:5050\n"
            "Options must be positive integers; left out, the system default applies.\n",
            progname);
}

/* Prints the usage message on stderr and exits with status 2. */
static void usage(void)
{
    print_usage(stderr);
    exit(EXIT_USAGE);
}

/* -h, --help: prints the usage message on stdout and exits with status 0
 * (1 when stdout cannot take it). */
static void help(void)
{
    print_usage(stdout);
    exit(fflush(stdout) == 0 && !ferror(stdout) ? EXIT_SUCCESS : EXIT_FAILURE);
}

/* Prints "progname: message" on stderr and exits with status 2 via usage(). */
static void bad_argument(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    usage();
}

/*
 * Parses the argument of option -opt as a decimal integer in 1..max. Returns
 * it; anything else (empty, sign, junk, trailing characters, 0, overflow) is a
 * usage error.
 */
static long long parse_positive_option(int opt, const char *arg, long long max)
{
    char *end;
    long long value;

    if (arg[0] < '0' || arg[0] > '9')
        bad_argument("-%c needs a positive integer, got \"%s\"", opt, arg);
    errno = 0;
    value = strtoll(arg, &end, 10);
    if (errno != 0 || *end != '\0' || value < 1 || value > max)
        bad_argument("-%c needs a positive integer, got \"%s\"", opt, arg);
    return value;
}

/*
 * Splits "HOST:PORT" or "[IPV6]:PORT" into params->host and params->port.
 * Returns 0, or -1 when the text is not of that form or PORT is not 1..65535.
 */
static int parse_hostport(const char *text, struct client_params *params)
{
    const char *host = text, *colon, *port;
    size_t hostlen;
    char *end;
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
    if (port[0] < '0' || port[0] > '9')
        return -1;
    errno = 0;
    portnum = strtol(port, &end, 10);
    if (errno != 0 || *end != '\0' || portnum < 1 || portnum > 65535)
        return -1;
    memcpy(params->host, host, hostlen);
    params->host[hostlen] = '\0';
    snprintf(params->port, sizeof params->port, "%ld", portnum);
    return 0;
}

/* Prints a line on stdout that starts with the local time to the millisecond. */
static void log_time(const char *fmt, ...)
{
    struct timespec now;
    struct tm tm;
    char stamp[32];
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    printf("[%s.%03ld] ", stamp, now.tv_nsec / 1000000L);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
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

/* Prints a value to set: the number given, or the system default it keeps. */
static void print_setting(const char *name, int32_t given, int32_t system_default)
{
    if (given != 0)
        printf("set %-13s = %d\n", name, given);
    else
        printf("set %-13s = system default (%d)\n", name, system_default);
}

/*
 * Applies the requested keepalive values to fd through libkeepalive. Returns 0;
 * on failure prints libkeepalive's sentence and returns -1 with errno set
 * (EINVAL means the value itself is out of range).
 */
static int apply_keepalive(int fd, const struct client_params *params)
{
    if (keepalive_set(fd, &params->config) == -1) {
        int saved = errno;
        fprintf(stderr, "%s: keepalive_set: %s\n", progname, keepalive_last_error());
        errno = saved;
        return -1;
    }
    if (params->user_timeout_ms != 0 &&
        keepalive_set_user_timeout(fd, params->user_timeout_ms) == -1) {
        int saved = errno;
        fprintf(stderr, "%s: keepalive_set_user_timeout: %s\n", progname,
                keepalive_last_error());
        errno = saved;
        return -1;
    }
    return 0;
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
 * keepalive set before connecting. Returns the connected descriptor, -1 when
 * no address could be reached, or exits with status 2 when libkeepalive
 * rejects a value as invalid.
 */
static int connect_with_keepalive(const struct client_params *params)
{
    struct addrinfo hints, *res, *ai;
    char addr[NI_MAXHOST + NI_MAXSERV + 4];
    int fd = -1, rc;

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
            if (errno == EINVAL) {
                freeaddrinfo(res);
                close(fd);
                usage();
            }
            close(fd);
            fd = -1;
            continue;
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

/* Prints the keepalive values the kernel now uses for fd, read back. */
static void print_effective(int fd)
{
    keepalive_settings s;

    if (keepalive_get(fd, &s) == -1) {
        fprintf(stderr, "%s: keepalive_get: %s\n", progname, keepalive_last_error());
        return;
    }
    printf("keepalive %s: idle %d s, interval %d s, count %d: a silent peer is declared "
           "dead %d s after its last ACK\n",
           s.enabled ? "on" : "OFF", s.idle, s.interval, s.count,
           s.idle + s.interval * s.count);
    if (s.user_timeout_ms != 0)
        printf("TCP_USER_TIMEOUT %u ms: unacknowledged data fails the connection after that\n",
               s.user_timeout_ms);
}

/*
 * Prints why the connection ended (err: an errno value) and how long ago data
 * and an ACK were last received, from TCP_INFO read at once.
 */
static void report_end(int fd, int err)
{
    struct tcp_info info;
    socklen_t len = sizeof info;

    memset(&info, 0, sizeof info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == -1) {
        log_time("connection lost: %s (TCP_INFO unavailable: %s)", strerror(err),
                 strerror(errno));
        return;
    }
    log_time("connection lost: %s (last data received %.3f s ago, last ACK received "
             "%.3f s ago)",
             strerror(err), info.tcpi_last_data_recv / 1000.0,
             info.tcpi_last_ack_recv / 1000.0);
}

/*
 * Waits on the connected socket, printing each read, until the peer closes
 * (returns 0) or the connection fails (returns -1 after report_end).
 */
static int wait_until_closed(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    char buf[4096];
    ssize_t n;

    for (;;) {
        if (poll(&pfd, 1, -1) == -1) {
            if (errno == EINTR)
                continue;
            report_end(fd, errno);
            return -1;
        }
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
}

/* The one long option; every other option is a short one. */
static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

int main(int argc, char *argv[])
{
    struct client_params params;
    keepalive_config defaults = { 0, 0, 0 };
    int c, fd, rv;

    setvbuf(stdout, NULL, _IOLBF, 0);
    setvbuf(stderr, NULL, _IOLBF, 0);
    memset(&params, 0, sizeof params);

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:d:i:u:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            break;
        case 'c':
            params.config.count = (int32_t)parse_positive_option(c, optarg, INT32_MAX);
            break;
        case 'd':
            params.config.idle = (int32_t)parse_positive_option(c, optarg, INT32_MAX);
            break;
        case 'i':
            params.config.interval = (int32_t)parse_positive_option(c, optarg, INT32_MAX);
            break;
        case 'u':
            params.user_timeout_ms = (uint32_t)parse_positive_option(c, optarg, UINT32_MAX);
            break;
        case ':':
            bad_argument("option requires an argument: -%c", optopt);
            break;
        default:
            if (optopt != 0)
                bad_argument("unrecognized option: -%c", optopt);
            bad_argument("unrecognized option: %s", argv[optind - 1]); /* a long one */
            break;
        }
    }
    if (optind != argc - 1)
        bad_argument(optind > argc - 1 ? "missing HOST:PORT" : "too many arguments");
    if (parse_hostport(argv[optind], &params) == -1)
        bad_argument("invalid HOST:PORT: \"%s\"", argv[optind]);

    if (keepalive_system_defaults(&defaults) == -1)
        fprintf(stderr, "%s: keepalive_system_defaults: %s\n", progname, keepalive_last_error());
    printf("going to connect to %s port %s\n", params.host, params.port);
    printf("set %-13s = 1\n", "SO_KEEPALIVE");
    print_setting("TCP_KEEPIDLE", params.config.idle, defaults.idle);
    print_setting("TCP_KEEPCNT", params.config.count, defaults.count);
    print_setting("TCP_KEEPINTVL", params.config.interval, defaults.interval);
    if (params.user_timeout_ms != 0)
        printf("set %-13s = %u ms\n", "TCP_USER_TIMEOUT", params.user_timeout_ms);

    fd = connect_with_keepalive(&params);
    if (fd == -1)
        return EXIT_FAILURE;
    print_effective(fd);
    rv = wait_until_closed(fd);
    close(fd);
    return rv == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
