/*
 * probe: creates sockets of every kind the preload library must (and must
 * not) touch, and prints what each one ended up with, read back with its own
 * getsockopt calls. Run it bare, under libkeepalive-preload.so and under
 * libkeepalive 0.3 with the same variables, and compare the outputs.
 *
 * One line per socket:
 *   NAME so_keepalive=V keepidle=V keepintvl=V keepcnt=V user_timeout=V
 * where V is the value read back or the errno name getsockopt failed with.
 * Then lines for errno checks:
 *   errno-NAME rc=R errno=E
 *
 * `probe race N` instead starts N threads that wait on a barrier and then
 * create one IPv4 TCP socket each at the same moment (the library's first
 * call, raced), printing one `race-ipv4 ...` line per thread.
 *
 * `probe close-stderr` closes fd 2 and then creates one IPv4 TCP socket,
 * which gets fd 2 (a warning written inside socket() would go into it):
 *   closed-stderr-ipv4 fd=2 so_keepalive=V ...
 *
 * `probe cancel` creates the process's first TCP socket in a thread that has
 * a deferred pthread_cancel pending (socket() must not be a cancellation
 * point: the thread gets its descriptor, and is cancelled only at the
 * pthread_testcancel after it), then prints
 *   cancel returned=yes|no leaked=yes|no cancelled=yes|no so_keepalive=V
 *
 * `probe mptcp` creates IPv4 and IPv6 MPTCP sockets (IPPROTO_MPTCP, 262)
 * and prints their lines (mptcp4, mptcp6), or `mptcp unsupported=ERRNO`
 * when the kernel has no MPTCP (exit status 3).
 *
 * `probe own` sets keepalive itself, as curl and redis-cli do, on sockets
 * the library has configured, then prints what each ended up with:
 *   own-tcp rc=R so_keepalive=V ...      SO_KEEPALIVE 1, idle 60, interval 60,
 *                                        count 9, user timeout 0
 *   own-off rc=R so_keepalive=V ...      SO_KEEPALIVE 0
 *   own-short rc=R errno=E               TCP_KEEPIDLE with a 2-byte optlen
 *   own-unix rc=R so_keepalive=V         SO_KEEPALIVE 0 after 1 on a Unix socket
 *   own-nodelay rc=R tcp_nodelay=V       an option that is not keepalive's
 *   own-errno errno=E                    errno after a successful call (EINTR kept)
 * where rc is 0 when every setsockopt call succeeded, else the errno name.
 *
 * Exit status: 0 when every socket that should exist was created, 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The name of errno value `e` (e.g. "EINVAL"), or "errno" when unknown. */
static const char *errno_name(int e)
{
    const char *name = strerrorname_np(e);
    return name ? name : "errno";
}

/* Appends " label=V" for one int option of `fd` to line[*len..]. */
static void append_opt(char *line, size_t size, size_t *len, int fd, const char *label, int level,
                       int opt)
{
    int value = 0;
    socklen_t optlen = sizeof value;
    int n;
    if (getsockopt(fd, level, opt, &value, &optlen) == 0)
        n = snprintf(line + *len, size - *len, " %s=%d", label, value);
    else
        n = snprintf(line + *len, size - *len, " %s=%s", label, errno_name(errno));
    if (n > 0 && (size_t)n < size - *len)
        *len += (size_t)n;
}

/* Prints the line of socket `fd` (in one write, so that threads do not
 * interleave): NAME so_keepalive=V keepidle=V ... */
static void print_options(const char *name, int fd)
{
    char line[256];
    size_t len = 0;
    int n = snprintf(line, sizeof line, "%s", name);
    len = n > 0 ? (size_t)n : 0;
    append_opt(line, sizeof line, &len, fd, "so_keepalive", SOL_SOCKET, SO_KEEPALIVE);
    append_opt(line, sizeof line, &len, fd, "keepidle", IPPROTO_TCP, TCP_KEEPIDLE);
    append_opt(line, sizeof line, &len, fd, "keepintvl", IPPROTO_TCP, TCP_KEEPINTVL);
    append_opt(line, sizeof line, &len, fd, "keepcnt", IPPROTO_TCP, TCP_KEEPCNT);
    append_opt(line, sizeof line, &len, fd, "user_timeout", IPPROTO_TCP, TCP_USER_TIMEOUT);
    printf("%s\n", line);
}

/* Creates one socket, prints its line, closes it. Returns 0, or 1 when the
 * socket could not be created. */
static int probe(const char *name, int domain, int type, int protocol)
{
    int fd = socket(domain, type, protocol);
    if (fd < 0) {
        printf("%s socket-failed=%s\n", name, errno_name(errno));
        return 1;
    }
    print_options(name, fd);
    close(fd);
    return 0;
}

/* close(2), then one TCP socket, which takes descriptor 2. Returns 0 when
 * the socket was created. */
static int closed_stderr(void)
{
    char name[48];
    close(STDERR_FILENO);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        printf("closed-stderr-ipv4 socket-failed=%s\n", errno_name(errno));
        return 1;
    }
    snprintf(name, sizeof name, "closed-stderr-ipv4 fd=%d", fd);
    print_options(name, fd);
    close(fd);
    return 0;
}

/* The descriptor the cancelled thread's socket() returned, or -1. */
static volatile int cancel_fd = -1;

static void *cancel_main(void *arg)
{
    (void)arg;
    /* Deferred cancellation (the default) is now pending: the next
     * cancellation point this thread reaches acts on it. */
    pthread_cancel(pthread_self());
    cancel_fd = socket(AF_INET, SOCK_STREAM, 0);
    pthread_testcancel();
    return NULL;
}

/* The lowest descriptor number not in use (what the next socket() gets). */
static int lowest_free_fd(void)
{
    int fd = dup(STDIN_FILENO);
    if (fd >= 0)
        close(fd);
    return fd;
}

/* See the header. Returns 0 when socket() returned and nothing leaked. */
static int cancel(void)
{
    pthread_t thread;
    void *result = NULL;
    int next = lowest_free_fd();
    if (next < 0 || pthread_create(&thread, NULL, cancel_main, NULL) != 0 ||
        pthread_join(thread, &result) != 0) {
        printf("cancel thread-failed\n");
        return 1;
    }
    int returned = cancel_fd >= 0;
    /* Descriptor `next` open although socket() never returned it: leaked. */
    int leaked = !returned && fcntl(next, F_GETFD) != -1;
    char name[96];
    snprintf(name, sizeof name, "cancel returned=%s leaked=%s cancelled=%s",
             returned ? "yes" : "no", leaked ? "yes" : "no",
             result == PTHREAD_CANCELED ? "yes" : "no");
    if (returned) {
        print_options(name, cancel_fd);
        close(cancel_fd);
    } else {
        printf("%s\n", name);
    }
    return returned && !leaked ? 0 : 1;
}

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

/* MPTCP sockets, IPv4 and IPv6. Returns 0, 1 on a failure, 3 when the
 * kernel has no MPTCP. */
static int mptcp(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
    if (fd < 0 && (errno == EPROTONOSUPPORT || errno == EINVAL || errno == ENOPROTOOPT)) {
        printf("mptcp unsupported=%s\n", errno_name(errno));
        return 3;
    }
    if (fd >= 0)
        close(fd);
    return probe("mptcp4", AF_INET, SOCK_STREAM, IPPROTO_MPTCP) |
           probe("mptcp6-nonblock", AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_MPTCP);
}

/* A socket() that must fail: prints its return value and errno. */
static void probe_failure(const char *name, int domain, int type, int protocol)
{
    errno = 0;
    int fd = socket(domain, type, protocol);
    int e = errno;
    printf("errno-%s rc=%d errno=%s\n", name, fd, errno_name(e));
    if (fd >= 0)
        close(fd);
}

/* A socket() that succeeds must leave errno as the caller had it (glibc's
 * socket() does not touch errno on success). */
static void probe_errno_kept(const char *name, int domain, int type)
{
    errno = EINTR;
    int fd = socket(domain, type, 0);
    int e = errno;
    printf("errno-%s rc=%s errno=%s\n", name, fd >= 0 ? "fd" : "-1", errno_name(e));
    if (fd >= 0)
        close(fd);
}

static void *thread_main(void *arg)
{
    (void)arg;
    /* The result is printed; creation failure is reported through it. */
    return (void *)(intptr_t)probe("thread-ipv4", AF_INET, SOCK_STREAM, 0);
}

static pthread_barrier_t race_start;

static void *race_main(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&race_start);
    return (void *)(intptr_t)probe("race-ipv4", AF_INET, SOCK_STREAM, 0);
}

/* N threads create their first socket at once. Returns 0 when all did. */
static int race(int n)
{
    enum { MAX_THREADS = 64 };
    pthread_t threads[MAX_THREADS];
    int failed = 0;
    if (n < 1 || n > MAX_THREADS || pthread_barrier_init(&race_start, NULL, (unsigned)n) != 0)
        return 1;
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&threads[started], NULL, race_main, NULL) != 0)
            break;
    if (started < n) {
        /* The barrier would never open: report it rather than hang. */
        printf("race thread-create-failed\n");
        _exit(1);
    }
    for (int i = 0; i < n; i++) {
        void *result = NULL;
        if (pthread_join(threads[i], &result) != 0 || result != NULL)
            failed = 1;
    }
    pthread_barrier_destroy(&race_start);
    return failed;
}

/* setsockopt(fd, level, opt, &value, sizeof value); returns 0 or errno. */
static int set_int(int fd, int level, int opt, int value)
{
    return setsockopt(fd, level, opt, &value, sizeof value) == 0 ? 0 : errno;
}

/* "rc=0" or "rc=ENAME" for a result of set_int. */
static void rc_name(char *buf, size_t size, int rc)
{
    snprintf(buf, size, "rc=%s", rc == 0 ? "0" : errno_name(rc));
}

/* See the header. Returns 0 when the sockets could be created. */
static int own(void)
{
    char name[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 1;
    int rc = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    if (!rc) rc = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 60);
    if (!rc) rc = set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 60);
    if (!rc) rc = set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 9);
    if (!rc) rc = set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 0);
    snprintf(name, sizeof name, "own-tcp ");
    rc_name(name + 8, sizeof name - 8, rc);
    print_options(name, fd);

    errno = EINTR;
    rc = set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 9);
    printf("own-errno errno=%s\n", rc == 0 ? errno_name(errno) : "failed");

    short two = 5;
    rc = setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &two, sizeof two) == 0 ? 0 : errno;
    printf("own-short rc=%s\n", rc == 0 ? "0" : errno_name(rc));

    rc = set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    int nodelay = -1;
    socklen_t len = sizeof nodelay;
    getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len);
    printf("own-nodelay rc=%s tcp_nodelay=%d\n", rc == 0 ? "0" : errno_name(rc), nodelay);
    close(fd);

    fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 1;
    rc = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
    snprintf(name, sizeof name, "own-off ");
    rc_name(name + 8, sizeof name - 8, rc);
    print_options(name, fd);
    close(fd);

    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return 1;
    rc = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    if (!rc) rc = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
    int on = -1;
    len = sizeof on;
    getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len);
    printf("own-unix rc=%s so_keepalive=%d\n", rc == 0 ? "0" : errno_name(rc), on);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    int failed = 0;
    /* Line-buffered even into a pipe, so the forked child's lines cannot be
     * duplicated, and each line is written whole. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "race") == 0)
        return race(atoi(argv[2]));
    if (argc == 2 && strcmp(argv[1], "close-stderr") == 0)
        return closed_stderr();
    if (argc == 2 && strcmp(argv[1], "cancel") == 0)
        return cancel();
    if (argc == 2 && strcmp(argv[1], "mptcp") == 0)
        return mptcp();
    if (argc == 2 && strcmp(argv[1], "own") == 0)
        return own();
    if (argc != 1) {
        fprintf(stderr, "usage: probe [race N | close-stderr | cancel | mptcp | own]\n");
        return 2;
    }

    failed |= probe("ipv4", AF_INET, SOCK_STREAM, 0);
    failed |= probe("ipv6", AF_INET6, SOCK_STREAM, 0);
    failed |= probe("ipv4-nonblock-cloexec", AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    failed |= probe("ipv6-nonblock-cloexec", AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    failed |= probe("ipv4-ipproto-tcp", AF_INET, SOCK_STREAM, IPPROTO_TCP);
    failed |= probe("ipv6-ipproto-tcp", AF_INET6, SOCK_STREAM, IPPROTO_TCP);
    failed |= probe("udp4", AF_INET, SOCK_DGRAM, 0);
    failed |= probe("udp6", AF_INET6, SOCK_DGRAM, 0);
    failed |= probe("unix-stream", AF_UNIX, SOCK_STREAM, 0);
    failed |= probe("unix-dgram", AF_UNIX, SOCK_DGRAM, 0);

    pthread_t thread;
    void *thread_result = NULL;
    if (pthread_create(&thread, NULL, thread_main, NULL) != 0 ||
        pthread_join(thread, &thread_result) != 0) {
        printf("thread-ipv4 thread-failed\n");
        failed = 1;
    } else {
        failed |= (int)(intptr_t)thread_result;
    }

    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        int rc = probe("fork-child-ipv4", AF_INET, SOCK_STREAM, 0);
        fflush(stdout);
        _exit(rc);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        printf("fork-child-ipv4 fork-failed\n");
        failed = 1;
    }

    probe_failure("bad-domain", 12345, SOCK_STREAM, 0);
    probe_failure("bad-type", AF_INET, 12345, 0);
    probe_failure("tcp-protocol-on-dgram", AF_INET, SOCK_DGRAM, IPPROTO_TCP);
    probe_errno_kept("kept-ipv4", AF_INET, SOCK_STREAM);
    probe_errno_kept("kept-ipv6", AF_INET6, SOCK_STREAM);
    return failed;
}
