/* Sets a 60 s deadline on a real loopback connection and reads it back, with
 * the library and with getsockopt; exits 0 when both say idle 30, interval
 * 10, count 3 and a 60000 ms user timeout, 1 otherwise. */
#include <keepalive.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int raw(int fd, int level, int opt)
{
    int v = -1;
    socklen_t len = sizeof v;
    return getsockopt(fd, level, opt, &v, &len) == 0 ? v : -1;
}

int main(void)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int listener = socket(AF_INET, SOCK_STREAM, 0), client = socket(AF_INET, SOCK_STREAM, 0);
    keepalive_settings s;
    keepalive_status st;

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listener < 0 || client < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listener, 1) != 0 || getsockname(listener, (struct sockaddr *)&addr, &len) != 0 ||
        connect(client, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("loopback connection");
        return 1;
    }
    if (keepalive_set_deadline(client, 60) != 0 || keepalive_get(client, &s) != 0 ||
        keepalive_get_status(client, &st) != 0) {
        fprintf(stderr, "keepalive: %s\n", keepalive_last_error());
        return 1;
    }
    printf("libkeepalive %s (C): deadline 60 -> on=%d idle=%d interval=%d count=%d "
           "user_timeout_ms=%u, dead in %lld ms\n",
           keepalive_version(), s.enabled, s.idle, s.interval, s.count, s.user_timeout_ms,
           (long long)st.dead_in_ms);
    if (!s.enabled || s.idle != 30 || s.interval != 10 || s.count != 3 || s.user_timeout_ms != 60000)
        return 1;
    if (raw(client, SOL_SOCKET, SO_KEEPALIVE) != 1 || raw(client, IPPROTO_TCP, TCP_KEEPIDLE) != 30 ||
        raw(client, IPPROTO_TCP, TCP_KEEPINTVL) != 10 || raw(client, IPPROTO_TCP, TCP_KEEPCNT) != 3 ||
        raw(client, IPPROTO_TCP, TCP_USER_TIMEOUT) != 60000) {
        fprintf(stderr, "getsockopt disagrees with keepalive_get\n");
        return 1;
    }
    if (st.dead_in_ms <= 0 || st.dead_in_ms > 60000)
        return 1;
    close(client);
    close(listener);
    return 0;
}
