// The same check as ../c/main.c, from C++: a 90 s deadline on a real
// loopback connection, read back with the library and with getsockopt.
#include <keepalive.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace {

int raw(int fd, int level, int opt)
{
    int v = -1;
    socklen_t len = sizeof v;
    return getsockopt(fd, level, opt, &v, &len) == 0 ? v : -1;
}

}  // namespace

int main()
{
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listener < 0 || client < 0 ||
        bind(listener, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        listen(listener, 1) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr *>(&addr), &len) != 0 ||
        connect(client, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        std::perror("loopback connection");
        return 1;
    }
    keepalive_settings s{};
    if (keepalive_set_deadline(client, 90) != 0 || keepalive_get(client, &s) != 0) {
        std::fprintf(stderr, "keepalive: %s\n", keepalive_last_error());
        return 1;
    }
    std::printf("libkeepalive %s (C++): deadline 90 -> on=%d idle=%d interval=%d count=%d "
                "user_timeout_ms=%u\n",
                keepalive_version(), s.enabled, s.idle, s.interval, s.count, s.user_timeout_ms);
    bool ok = s.enabled && s.idle == 45 && s.interval == 15 && s.count == 3 &&
              s.user_timeout_ms == 90000 && raw(client, SOL_SOCKET, SO_KEEPALIVE) == 1 &&
              raw(client, IPPROTO_TCP, TCP_KEEPIDLE) == 45 &&
              raw(client, IPPROTO_TCP, TCP_KEEPINTVL) == 15 &&
              raw(client, IPPROTO_TCP, TCP_KEEPCNT) == 3 &&
              raw(client, IPPROTO_TCP, TCP_USER_TIMEOUT) == 90000;
    // A bad value is refused with EINVAL and changes nothing.
    keepalive_config bad{0, 0, 500};
    ok = ok && keepalive_set(client, &bad) == -1 && raw(client, IPPROTO_TCP, TCP_KEEPCNT) == 3;
    close(client);
    close(listener);
    return ok ? 0 : 1;
}
