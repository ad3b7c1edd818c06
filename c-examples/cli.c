/*
 * cli.c: what the two example programs say and read the same way; see
 * cli.h. Like the programs, it decides nothing about keepalive values: the
 * syntax, the ranges, the rules between the values and their messages are
 * libkeepalive's.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { EXIT_USAGE = 2 };

/* The keepalive options: which value of keepalive_request each one gives. */
static const struct {
    char option;
    const char *value;
} keepalive_options[] = {
    { 'c', "count" },        { 'd', "idle" },     { 'i', "interval" },
    { 'u', "user_timeout" }, { 'D', "deadline" },
};

/* The one long option; every other option is a short one. */
static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

_Noreturn void bad_argument(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    print_usage(stderr);
    exit(EXIT_USAGE);
}

/* -h, --help: prints the usage message on stdout and exits with status 0
 * (1 when stdout cannot take it). */
static _Noreturn void help(void)
{
    print_usage(stdout);
    exit(fflush(stdout) == 0 && !ferror(stdout) ? EXIT_SUCCESS : EXIT_FAILURE);
}

/* The keepalive_request value option c gives, or NULL when c is not a
 * keepalive option. */
static const char *value_of(int c)
{
    size_t i;

    for (i = 0; i < sizeof keepalive_options / sizeof keepalive_options[0]; i++)
        if (keepalive_options[i].option == c)
            return keepalive_options[i].value;
    return NULL;
}

/*
 * After the last option: the rules between the values (keepalive_request_check
 * names the value at fault, e.g. "count cannot be given with deadline: ..."),
 * then the deadline's split.
 */
static void check_request(const keepalive_request *request, keepalive_settings *schedule)
{
    if (keepalive_request_check(request) == -1)
        bad_argument("%s", keepalive_last_error());
    if (request->deadline != -1 &&
        keepalive_deadline_schedule((uint32_t)request->deadline, 0, schedule) == -1)
        bad_argument("-D: %s", keepalive_last_error());
}

int next_option(int argc, char *argv[], const char *optstring, keepalive_request *request,
                keepalive_settings *schedule)
{
    const char *value;
    int c;

    opterr = 0; /* the messages are ours, with the usage */
    while ((c = getopt_long(argc, argv, optstring, long_options, NULL)) != -1) {
        if (c == 'h')
            help();
        if (c == ':')
            bad_argument("option requires an argument: -%c", optopt);
        if (c == '?') {
            if (optopt != 0)
                bad_argument("unrecognized option: -%c", optopt);
            bad_argument("unrecognized option: %s", argv[optind - 1]); /* a long one */
        }
        value = value_of(c);
        if (value == NULL)
            return c; /* one of the program's own */
        /* The library checks the syntax and the range: its sentence names
         * the value, its range and what was given. */
        if (keepalive_request_parse(request, value, optarg) == -1)
            bad_argument("-%c: %s", c, keepalive_last_error());
    }
    check_request(request, schedule);
    return -1;
}

long parse_integer(const char *arg, long min, long max)
{
    char *end;
    long value;

    if (arg[0] < '0' || arg[0] > '9')
        return -1;
    errno = 0;
    value = strtol(arg, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max)
        return -1;
    return value;
}

void log_time(const char *fmt, ...)
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

/* Formats milliseconds as seconds: "5" when whole, else "3.500". Returns out. */
static const char *seconds_text(long long ms, char *out, size_t outlen)
{
    if (ms % 1000 == 0)
        snprintf(out, outlen, "%lld", ms / 1000);
    else
        snprintf(out, outlen, "%.3f", (double)ms / 1000.0);
    return out;
}

int print_dead_after(const char *who, const keepalive_settings *s)
{
    keepalive_dead_after d;
    char idle[32], busy[32];

    if (keepalive_settings_dead_after(s, &d) == -1)
        return -1;
    printf("a silent %s is declared dead %s s after its last ACK (after %u probe%s)", who,
           seconds_text(d.idle_ms, idle, sizeof idle), d.probes, d.probes == 1 ? "" : "s");
    if (d.busy_ms >= 0)
        printf("; with data unacknowledged, %s s after its last ACK",
               seconds_text(d.busy_ms, busy, sizeof busy));
    putchar('\n');
    return 0;
}
