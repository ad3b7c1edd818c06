/*
 * cli.h: what the two example programs (tcp_keepalive_client.c,
 * tcp_keepalive_server.c) say and read the same way, in cli.c: their
 * keepalive options (-c -d -i -u -D) into one keepalive_request, their usage
 * errors and -h, their port numbers, their timestamped lines, and the
 * sentence saying when the kernel declares a silent peer dead. Each program
 * is its own file plus these two; see README.md ("Why three files").
 */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

#include <keepalive.h>

/* Given by each program: its name in messages, and its usage text. */
extern const char *const progname;
void print_usage(FILE *out);

/*
 * Reads the next option of argv, getopt_long-style, with optstring (":",
 * the program's letters, "h"). The keepalive options among them, -c (count),
 * -d (idle), -i (interval), -u (user_timeout) and -D (deadline), go into
 * *request through keepalive_request_parse(); once every option is read,
 * keepalive_request_check() applies the rules between them (a deadline goes
 * alone) and, with a deadline, *schedule gets its split. -h and --help print
 * the usage on stdout and exit 0. A value or an option the library or getopt
 * refuses is a usage error (exit 2). Returns each of the program's other
 * options, -1 after the last one (optind is then the first operand).
 */
int next_option(int argc, char *argv[], const char *optstring, keepalive_request *request,
                keepalive_settings *schedule);

/* Prints "progname: <message>" and the usage on stderr and exits with
 * status 2. */
_Noreturn void bad_argument(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/*
 * Parses arg as a decimal integer in min..max (a port: the server's PORT, the
 * client's HOST:PORT). Returns it, or -1 for anything else (empty, sign,
 * junk, trailing characters, out of range, overflow).
 */
long parse_integer(const char *arg, long min, long max);

/* Prints a line on stdout that starts with the local time to the
 * millisecond. */
void log_time(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/*
 * Prints when the kernel declares a silent `who` ("peer", "client") dead with
 * the settings s, read back from a socket, after how many probes, and with a
 * user timeout when a busy one is (keepalive_settings_dead_after(): a set
 * TCP_USER_TIMEOUT replaces TCP_KEEPCNT on Linux). Returns 0, or -1 with
 * keepalive_last_error() saying why, nothing printed.
 */
int print_dead_after(const char *who, const keepalive_settings *s);

#endif
