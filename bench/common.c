/* The benchmark programs' shared helpers; see common.h. */
#define _GNU_SOURCE /* program_invocation_short_name */

#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

void die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, strerror(errno));
    exit(1);
}

int64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime");
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int get_int(int fd, int level, int opt, const char *name)
{
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, opt, &v, &len) != 0)
        die(name);
    return v;
}

void set_int(int fd, int level, int opt, int v, const char *name)
{
    if (setsockopt(fd, level, opt, &v, sizeof v) != 0)
        die(name);
}

int loopback_listener(struct sockaddr_in *addr, int backlog)
{
    socklen_t len = sizeof *addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof *addr) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) != 0)
        die("listen on loopback");
    return fd;
}

long count_arg(const char *s, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < 1 || v > max)
        return -1;
    return v;
}
