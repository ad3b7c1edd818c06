/* The C probe of the cgroup tests: makes or accepts one TCP connection and
 * prints the keepalive settings read back from its own socket. It never
 * links libkeepalive: whatever it reports, the kernel was told by someone
 * else (the BPF programs, or the preload library) unless it says "set".
 *
 *   probe connect HOST:PORT [--idle N] [--idle-before N] [--hold]
 *   probe serve [--hold]
 *
 * connect: connects to HOST:PORT (IPv4), optionally sets TCP_KEEPIDLE N
 * itself after (--idle) or before (--idle-before) connecting.
 * serve: listens on 127.0.0.1, prints "listening on port N", accepts one
 * connection. Both then print one line
 *   settings ENABLED IDLE INTERVAL COUNT USER_TIMEOUT_MS
 * With --hold, another such line for each line read on stdin, until EOF.
 * Exit status: 0 done, 1 a call failed, 2 usage.
 */
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

static int usage(void)
{
    fprintf(stderr, "usage: probe connect HOST:PORT [--idle N] [--idle-before N] [--hold]\n"
                    "       probe serve [--hold]\n");
    return 2;
}

/* Reads one int option; prints the failure and returns -1 on error. */
static int get_int(int fd, int level, int option, const char *name)
{
    int v = 0;
    socklen_t len = sizeof(v);
    if (getsockopt(fd, level, option, &v, &len) != 0) {
        fprintf(stderr, "getsockopt %s: %s\n", name, strerror(errno));
        return -1;
    }
    return v;
}

/* Prints the settings line for fd; returns 0, or 1 when a read failed. */
static int print_settings(int fd)
{
    int on = get_int(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE");
    int idle = get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE");
    int intvl = get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL");
    int cnt = get_int(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT");
    int ut = get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT");
    if (on < 0 || idle < 0 || intvl < 0 || cnt < 0 || ut < 0)
        return 1;
    printf("settings %d %d %d %d %d\n", on, idle, intvl, cnt, ut);
    return 0;
}

static int set_idle(int fd, int idle)
{
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) != 0) {
        fprintf(stderr, "setsockopt TCP_KEEPIDLE %d: %s\n", idle, strerror(errno));
        return 1;
    }
    printf("set TCP_KEEPIDLE %d\n", idle);
    return 0;
}

/* Parses "A.B.C.D:PORT"; returns 0 on success. */
static int parse_addr(const char *text, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof(host))
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return -1;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* One more settings line per line of stdin, until EOF. */
static int hold(int fd)
{
    char line[256];
    int status = 0;
    while (fgets(line, sizeof(line), stdin))
        status |= print_settings(fd);
    return status;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        return usage();
    int serve = strcmp(argv[1], "serve") == 0;
    if (!serve && strcmp(argv[1], "connect") != 0)
        return usage();
    int first = serve ? 2 : 3;
    if (!serve && argc < 3)
        return usage();
    int idle_after = 0, idle_before = 0, keep = 0;
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--hold") == 0)
            keep = 1;
        else if (strcmp(argv[i], "--idle") == 0 && i + 1 < argc)
            idle_after = atoi(argv[++i]);
        else if (strcmp(argv[i], "--idle-before") == 0 && i + 1 < argc)
            idle_before = atoi(argv[++i]);
        else
            return usage();
    }

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    int conn = fd;
    if (serve) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
            perror("listen");
            return 1;
        }
        printf("listening on port %d\n", ntohs(sa.sin_port));
        conn = accept(fd, NULL, NULL);
        if (conn < 0) {
            perror("accept");
            return 1;
        }
    } else {
        struct sockaddr_in sa;
        if (parse_addr(argv[2], &sa) != 0)
            return usage();
        if (idle_before && set_idle(fd, idle_before))
            return 1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            perror("connect");
            return 1;
        }
        if (idle_after && set_idle(fd, idle_after))
            return 1;
    }
    printf("connected\n");
    int status = print_settings(conn);
    if (keep)
        status |= hold(conn);
    return status;
}
