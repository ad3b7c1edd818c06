/*
 * detect: measures how long after the last ACK a dead peer is reported, with
 * keepalive set through libkeepalive.
 *
 *   detect serve PORT
 *       Listens on PORT (IPv4, all addresses), prints "listening PORT", then
 *       for each client echoes its one byte and keeps the connection open
 *       without ever writing again (a peer that can be cut at will).
 *   detect probe HOST PORT IDLE INTERVAL COUNT
 *       Connects, sets keepalive with keepalive_set(fd, {IDLE, INTERVAL,
 *       COUNT}), exchanges one byte, prints "ready", then blocks in read()
 *       until the connection ends and prints one line:
 *         result idle=I interval=N count=C errno=E reason=<strerror text>
 *                last_ack_ms=<ms since the last ACK, from TCP_INFO>
 *       taken from the kernel (tcpi_last_ack_recv) the moment read() returns.
 *
 * Exit status: 0 when a result line was printed, 1 on failure, 2 on bad usage.
 */
#define _DEFAULT_SOURCE /* struct tcp_info */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <keepalive.h>

#include "common.h"

static void usage(void)
{
    fprintf(stderr, "usage: detect serve PORT\n"
                    "       detect probe HOST PORT IDLE INTERVAL COUNT\n");
    exit(2);
}

/* Parses an int in [min, max] or exits with the usage message. */
static int int_arg(const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
        usage();
    return (int)v;
}

/* Echoes one byte per client and keeps every connection open; never returns. */
static void serve(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_ANY)};
    int one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 128) != 0)
        die("listen");
    printf("listening %d\n", port);
    fflush(stdout);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die("accept");
        }
        char c;
        if (read(fd, &c, 1) == 1 && write(fd, &c, 1) != 1)
            die("write");
        /* fd stays open: the client decides when this connection dies. */
    }
}

/* Connects, sets keepalive, waits for the end; prints the result line. */
static int probe(const char *host, int port, int idle, int interval, int count)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        usage();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    const keepalive_config c = {.idle = idle, .interval = interval, .count = count};
    if (keepalive_set(fd, &c) != 0) {
        fprintf(stderr, "detect: keepalive_set: %s\n", keepalive_last_error());
        return 1;
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("connect");
    char ch = 'x';
    if (write(fd, &ch, 1) != 1 || read(fd, &ch, 1) != 1)
        die("exchange");
    printf("ready\n");
    fflush(stdout);
    ssize_t n;
    do
        n = read(fd, &ch, 1);
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : 0;
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        die("TCP_INFO");
    printf("result idle=%d interval=%d count=%d errno=%d reason=%s last_ack_ms=%u\n", idle,
           interval, count, err, err ? strerror(err) : "end of stream", ti.tcpi_last_ack_recv);
    fflush(stdout);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        serve(int_arg(argv[2], 1, 65535));
    if (argc == 7 && strcmp(argv[1], "probe") == 0)
        return probe(argv[2], int_arg(argv[3], 1, 65535), int_arg(argv[4], 1, 32767),
                     int_arg(argv[5], 1, 32767), int_arg(argv[6], 1, 127));
    usage();
}
