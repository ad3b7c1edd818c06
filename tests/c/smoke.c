/*
 * smoke: the smallest real user of libkeepalive, for the link tests of
 * tests/c/run.sh (an installed prefix without rpath, a fully static link).
 * Turns keepalive on a real TCP socket on with keepalive_set, reads it back
 * with keepalive_get and with getsockopt, and prints one line:
 *   libkeepalive VERSION: on=1 idle=30 interval=7 count=4
 * Exit status: 0 when both read-backs agree with what was set, 1 otherwise.
 */
#include <keepalive.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* One int option read with getsockopt, or -1. */
static int opt(int fd, int level, int name)
{
    int value = -1;
    socklen_t len = sizeof value;

    if (getsockopt(fd, level, name, &value, &len) == -1)
        return -1;
    return value;
}

int main(void)
{
    keepalive_config c = { .idle = 30, .interval = 7, .count = 4 };
    keepalive_settings s;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok;

    if (fd == -1) {
        perror("socket");
        return 1;
    }
    if (keepalive_set(fd, &c) == -1 || keepalive_get(fd, &s) == -1) {
        fprintf(stderr, "smoke: %s\n", keepalive_last_error());
        close(fd);
        return 1;
    }
    ok = s.enabled && s.idle == 30 && s.interval == 7 && s.count == 4 &&
         opt(fd, SOL_SOCKET, SO_KEEPALIVE) == 1 && opt(fd, IPPROTO_TCP, TCP_KEEPIDLE) == 30 &&
         opt(fd, IPPROTO_TCP, TCP_KEEPINTVL) == 7 && opt(fd, IPPROTO_TCP, TCP_KEEPCNT) == 4;
    printf("libkeepalive %s: on=%d idle=%d interval=%d count=%d\n", keepalive_version(),
           s.enabled, s.idle, s.interval, s.count);
    close(fd);
    return ok ? 0 : 1;
}
