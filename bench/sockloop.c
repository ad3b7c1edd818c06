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

#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv)
{
    long n = argc == 2 ? count_arg(argv[1], LONG_MAX) : -1;
    if (n == -1) {
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
