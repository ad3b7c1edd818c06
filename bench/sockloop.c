/*
 * sockloop: creates and closes N TCP sockets, for timing a socket()
 * interposer (LD_PRELOAD) such as libkeepalive-preload.so.
 *
 * Usage: sockloop N
 *
 * First prints, on one line, what the interposer did to a fresh TCP socket:
 *   keepalive=<0|1> idle=<s> interval=<s> count=<n>
 * so a caller can check that a preload is really active. Then times N
 * rounds of socket(AF_INET, SOCK_STREAM, 0) + close() with CLOCK_MONOTONIC
 * and prints the elapsed nanoseconds on a second line:
 *   ns=<elapsed>
 * Exit status 1 when a call fails.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "sockloop: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime");
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int get_int(int fd, int level, int opt, const char *name)
{
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, opt, &v, &len) != 0)
        die(name);
    return v;
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long n = argc == 2 ? strtol(argv[1], &end, 10) : 0;
    if (argc != 2 || *argv[1] == '\0' || *end != '\0' || n < 1) {
        fprintf(stderr, "usage: sockloop N\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    printf("keepalive=%d idle=%d interval=%d count=%d\n",
           get_int(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"),
           get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE"),
           get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL"),
           get_int(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT"));
    close(fd);
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            die("socket");
        if (close(fd) != 0)
            die("close");
    }
    printf("ns=%lld\n", (long long)(now_ns() - t0));
    return 0;
}
