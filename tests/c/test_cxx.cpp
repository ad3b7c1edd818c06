// The header compiles as C++ (extern "C", -std=c++17 -Wall -Wextra -Werror
// -pedantic) and the library links and works from C++: every function once
// on a real socket, read back with getsockopt.
#include <keepalive.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

static int passed, failed;

static void check(bool ok, const char *what)
{
    std::printf("%s %s\n", ok ? "PASS" : "FAIL", what);
    if (ok)
        passed++;
    else
        failed++;
}

static int opt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    return getsockopt(fd, level, name, &v, &len) == 0 ? v : -1;
}

int main()
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        std::perror("socket");
        return 2;
    }
    keepalive_config c{};
    c.idle = 30;
    c.interval = 7;
    c.count = 4;
    check(keepalive_set(fd, &c) == 0 && opt(fd, SOL_SOCKET, SO_KEEPALIVE) == 1 &&
              opt(fd, IPPROTO_TCP, TCP_KEEPIDLE) == 30 &&
              opt(fd, IPPROTO_TCP, TCP_KEEPINTVL) == 7 && opt(fd, IPPROTO_TCP, TCP_KEEPCNT) == 4,
          "C++: keepalive_set");
    check(keepalive_set_user_timeout(fd, 2500) == 0 &&
              opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT) == 2500,
          "C++: keepalive_set_user_timeout");
    keepalive_settings s{};
    check(keepalive_get(fd, &s) == 0 && s.enabled && s.idle == 30 && s.interval == 7 &&
              s.count == 4 && s.user_timeout_ms == 2500,
          "C++: keepalive_get");
    check(keepalive_disable(fd) == 0 && opt(fd, SOL_SOCKET, SO_KEEPALIVE) == 0,
          "C++: keepalive_disable");
    check(keepalive_enable(fd) == 0 && opt(fd, SOL_SOCKET, SO_KEEPALIVE) == 1,
          "C++: keepalive_enable");
    keepalive_config d{};
    check(keepalive_system_defaults(&d) == 0 && d.idle > 0 && d.interval > 0 && d.count > 0,
          "C++: keepalive_system_defaults");
    keepalive_config bad{};
    bad.count = 128;
    errno = 0;
    check(keepalive_set(fd, &bad) == -1 && errno == EINVAL &&
              std::string(keepalive_last_error()) == "count must be 1..127 probes, got 128" &&
              opt(fd, IPPROTO_TCP, TCP_KEEPCNT) == 4,
          "C++: keepalive_set refuses count 128, keepalive_last_error");
    check(keepalive_set(fd, nullptr) == -1 && errno == EINVAL, "C++: nullptr config");
    check(std::strchr(keepalive_version(), '.') != nullptr, "C++: keepalive_version");
    close(fd);
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
