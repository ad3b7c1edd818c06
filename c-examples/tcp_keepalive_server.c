/*
 * tcp_keepalive_server: an echo server that notices crashed clients in time.
 *
 *   tcp_keepalive_server [-c CNT] [-d IDLE] [-i INTVL] [-D DEADLINE] PORT
 *
 * The port of the article's server, on libkeepalive. It shows whether
 * SO_KEEPALIVE is on by default, turns it on on the listening socket (with
 * -d TCP_KEEPIDLE, -i TCP_KEEPINTVL and -c TCP_KEEPCNT when given; or -D, the
 * dead-peer deadline, which sets those three and TCP_USER_TIMEOUT together),
 * prints the effective values read back from the kernel and when the kernel
 * will declare a silent client dead with them, and listens on PORT on every
 * IPv4 and IPv6 address (PORT 0 picks a free port). Accepted connections
 * inherit the listener's keepalive settings; each client's line shows them,
 * read back. One epoll loop serves thousands of clients at once and echoes
 * what they send. A client that vanishes without a word (power cut, cable
 * pulled) stops answering keepalive probes and the kernel fails its socket:
 * the server prints a line with the reason, how long the client was
 * connected and how long ago it was last heard from.
 *
 * SIGPIPE is ignored (a write to a dead client fails with EPIPE instead of
 * killing the server); SIGINT and SIGTERM close every connection and exit 0.
 * Values are checked, keepalive set and read back only through libkeepalive,
 * before anything else is done; bad arguments are a usage error (exit 2).
 * The options are read, and the timestamped lines written, by cli.c, shared
 * with the client.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_EVENTS = 256, ECHO_BUFFER = 4096 };

const char *const progname = "tcp_keepalive_server";

/*
 * One connected client: its socket, who it is, since when, unsent echo bytes.
 * A client owns no buffer while its echoes go out at once, so that thousands
 * of idle clients cost a few hundred kilobytes, not a page each.
 */
struct client {
    int fd;
    char peer[INET6_ADDRSTRLEN + 16];
    struct timespec since;
    char *pending; /* malloc'd rest of an echo the socket could not take, or NULL */
    size_t pending_off, pending_len;
    int waiting_to_send; /* watched for EPOLLOUT rather than EPOLLIN */
    struct client *prev, *next;
};

/* The whole server: its descriptors, keepalive values, clients, read buffer. */
struct server {
    int listen_fd, epoll_fd, signal_fd;
    int spare_fd; /* kept open to accept-and-close when out of descriptors */
    int listener_paused; /* at the limit with no spare: listener out of the epoll set */
    int said_paused;     /* the line saying so was printed (once per process) */
    keepalive_request request;   /* -c -d -i -D, checked by the library (-1: not given) */
    keepalive_settings schedule; /* with -D: its split, from the library */
    struct client *clients;
    size_t nclients;
    char buffer[ECHO_BUFFER]; /* every client's data is read into this one buffer */
};

/* epoll tags for the two descriptors that are not clients. */
static char listener_tag, signal_tag;

/* Prints the usage message on out. */
void print_usage(FILE *out)
{
    fprintf(out,
            "usage: %s [-c CNT] [-d IDLE] [-i INTVL] [-D DEADLINE] PORT\n"
            "  -c CNT       TCP_KEEPCNT: unanswered probes before a client is dead\n"
            "  -d IDLE      TCP_KEEPIDLE: idle seconds before the first probe\n"
            "  -i INTVL     TCP_KEEPINTVL: seconds between probes\n"
            "  -D DEADLINE  dead-peer deadline for every client: declared dead DEADLINE\n"
            "               seconds after it was last heard from, idle or busy; sets\n"
            "               TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT\n"
            "               together, so it cannot be given with -d, -i or -c\n"
            "  -h, --help   this text, on stdout (exit status 0)\n"
            "  PORT         0..65535; 0 picks a free port\n"
            "Values are whole numbers, checked by libkeepalive before anything is done;\n"
            "an option left out keeps the system default. Accepted connections inherit\n"
            "the listening socket's settings.\n",
            progname);
}

/* Returns the seconds elapsed since the monotonic time start. */
static double seconds_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

/*
 * Formats a peer address as "192.0.2.1:40000" (also for IPv4 clients of the
 * dual-stack listener, which the kernel reports as ::ffff:192.0.2.1) or
 * "[2001:db8::1]:40000".
 */
static void format_peer(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN];
    struct sockaddr_in v4;
    const struct sockaddr *sa = (const struct sockaddr *)ss;
    socklen_t len = sizeof(struct sockaddr_in6);
    char serv[NI_MAXSERV];

    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            memset(&v4, 0, sizeof v4);
            v4.sin_family = AF_INET;
            v4.sin_port = v6->sin6_port;
            memcpy(&v4.sin_addr, &v6->sin6_addr.s6_addr[12], 4);
            sa = (const struct sockaddr *)&v4;
        }
    }
    if (sa->sa_family == AF_INET)
        len = sizeof(struct sockaddr_in);
    if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, outlen, "(unknown address)");
        return;
    }
    snprintf(out, outlen, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

/*
 * Raises the soft limit on open descriptors to the hard limit, so that the
 * server can hold as many clients as the system lets it. Failing is not fatal.
 */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
        fprintf(stderr, "%s: getrlimit: %s\n", progname, strerror(errno));
        return;
    }
    if (rl.rlim_cur != rl.rlim_max) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
            fprintf(stderr, "%s: setrlimit: %s\n", progname, strerror(errno));
            return;
        }
        printf("open files limit raised from %llu to %llu\n", (unsigned long long)old,
               (unsigned long long)rl.rlim_cur);
    } else {
        printf("open files limit is %llu\n", (unsigned long long)rl.rlim_cur);
    }
}

/*
 * Shows SO_KEEPALIVE's default on the listening socket, turns keepalive on with
 * the requested values (or the deadline) and prints what the kernel now uses,
 * and when it will declare a silent client dead with it
 * (keepalive_settings_dead_after: a set TCP_USER_TIMEOUT replaces TCP_KEEPCNT).
 * Sockets accepted from it inherit these settings. Returns 0, or -1 after
 * printing libkeepalive's sentence.
 */
static int setup_keepalive(int fd, const struct server *srv)
{
    const keepalive_settings *d = &srv->schedule;
    keepalive_settings s;

    if (keepalive_get(fd, &s) == -1)
        goto fail;
    printf("SO_KEEPALIVE default is %s\n", s.enabled ? "ON" : "OFF");
    if (keepalive_set_request(fd, &srv->request) == -1)
        goto fail;
    printf("SO_KEEPALIVE set on socket\n");
    if (keepalive_get(fd, &s) == -1)
        goto fail;
    printf("TCP_KEEPIDLE is %d\n", s.idle);
    printf("TCP_KEEPCNT is %d\n", s.count);
    printf("TCP_KEEPINTVL is %d\n", s.interval);
    if (s.user_timeout_ms != 0)
        printf("TCP_USER_TIMEOUT is %u ms\n", s.user_timeout_ms);
    if (srv->request.deadline != -1)
        printf("deadline %lld s set: TCP_KEEPIDLE %d, TCP_KEEPINTVL %d, TCP_KEEPCNT %d, "
               "TCP_USER_TIMEOUT %u ms\n",
               (long long)srv->request.deadline, d->idle, d->interval, d->count,
               d->user_timeout_ms);
    if (print_dead_after("client", &s) == -1)
        goto fail;
    return 0;
fail:;
    int saved = errno;
    fprintf(stderr, "%s: %s\n", progname, keepalive_last_error());
    errno = saved;
    return -1;
}

/*
 * Creates the listening socket for PORT on all addresses: one IPv6 socket that
 * also accepts IPv4 (IPV6_V6ONLY off), or an IPv4 one where IPv6 is missing,
 * with srv's keepalive settings. Returns the descriptor, or -1 after printing
 * why.
 */
static int create_listener(int port, const struct server *srv)
{
    struct sockaddr_storage ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    socklen_t len;
    int fd, on = 1, off = 0;

    memset(&ss, 0, sizeof ss);
    fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd != -1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_any;
        v6->sin6_port = htons((uint16_t)port);
        len = sizeof *v6;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == -1)
            fprintf(stderr, "%s: IPV6_V6ONLY off: %s (IPv6 only)\n", progname, strerror(errno));
    } else if (errno == EAFNOSUPPORT) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_ANY);
        v4->sin_port = htons((uint16_t)port);
        len = sizeof *v4;
    }
    if (fd == -1) {
        fprintf(stderr, "%s: socket: %s\n", progname, strerror(errno));
        return -1;
    }
    /* Bound first: a port in use is the first thing said, not the last
     * line after the settings. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1 ||
        bind(fd, (struct sockaddr *)&ss, len) == -1) {
        fprintf(stderr, "%s: port %d: %s\n", progname, port, strerror(errno));
        close(fd);
        return -1;
    }
    if (setup_keepalive(fd, srv) == -1) {
        close(fd);
        return -1;
    }
    if (listen(fd, SOMAXCONN) == -1 || getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
        fprintf(stderr, "%s: port %d: %s\n", progname, port, strerror(errno));
        close(fd);
        return -1;
    }
    printf("listening on port %d\n",
           ntohs(ss.ss_family == AF_INET6 ? v6->sin6_port : v4->sin_port));
    return fd;
}

/*
 * Ignores SIGPIPE and turns SIGINT and SIGTERM into readable events on a
 * signalfd. Returns the descriptor, or -1 after printing why.
 */
static int setup_signals(void)
{
    sigset_t mask;
    int fd;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1 ||
        (fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
        fprintf(stderr, "%s: signalfd: %s\n", progname, strerror(errno));
        return -1;
    }
    return fd;
}

/* Registers fd with the epoll set for events, tagged with ptr. Returns 0 or -1. */
static int watch(struct server *srv, int op, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = ptr;
    return epoll_ctl(srv->epoll_fd, op, fd, &ev);
}

/* Closes a client's socket and forgets it. */
static void forget_client(struct server *srv, struct client *cl)
{
    close(cl->fd);
    if (cl->prev != NULL)
        cl->prev->next = cl->next;
    else
        srv->clients = cl->next;
    if (cl->next != NULL)
        cl->next->prev = cl->prev;
    srv->nclients--;
    free(cl->pending);
    free(cl);
}

/*
 * At the descriptor limit with no spare descriptor to refuse a client with:
 * stops watching the listener, so that its waiting clients (kept in the
 * kernel's backlog) do not wake the loop again and again, and says so once.
 */
static void pause_listener(struct server *srv)
{
    if (srv->listener_paused)
        return;
    if (epoll_ctl(srv->epoll_fd, EPOLL_CTL_DEL, srv->listen_fd, NULL) == -1) {
        fprintf(stderr, "%s: epoll: %s\n", progname, strerror(errno));
        return;
    }
    srv->listener_paused = 1;
    if (!srv->said_paused) {
        srv->said_paused = 1;
        log_time("out of file descriptors and no spare one to refuse clients with "
                 "(/dev/null cannot be opened): new clients wait until one leaves "
                 "(%zu connected; said once)",
                 srv->nclients);
    }
}

/* Watches the listener again once a client has left (and takes the spare
 * descriptor again if it can now be had). */
static void resume_listener(struct server *srv)
{
    if (!srv->listener_paused)
        return;
    if (srv->spare_fd == -1)
        srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (watch(srv, EPOLL_CTL_ADD, srv->listen_fd, EPOLLIN, &listener_tag) == -1) {
        fprintf(stderr, "%s: epoll: %s\n", progname, strerror(errno));
        return;
    }
    srv->listener_paused = 0;
}

/*
 * Ends a client's connection and prints the line for it: err is 0 when the
 * client closed the connection itself, otherwise the errno that ended it
 * (ETIMEDOUT: it stopped answering keepalive probes, or left data
 * unacknowledged past the user timeout), with how long ago data and an ACK
 * were last received from it, read before its socket is closed. A descriptor
 * is free again, so a paused listener is watched again.
 */
static void drop_client(struct server *srv, struct client *cl, int err)
{
    double secs = seconds_since(&cl->since);
    char peer[sizeof cl->peer], heard[96] = "";
    keepalive_status st;

    memcpy(peer, cl->peer, sizeof peer);
    if (err != 0 && keepalive_get_status(cl->fd, &st) == 0)
        snprintf(heard, sizeof heard,
                 "; last data received %.3f s ago, last ACK received %.3f s ago",
                 st.last_data_ms / 1000.0, st.last_ack_ms / 1000.0);
    forget_client(srv, cl);
    resume_listener(srv);
    if (err == 0)
        log_time("client %s closed the connection after %.3f s (%zu connected)", peer, secs,
                 srv->nclients);
    else
        log_time("client %s lost after %.3f s: %s%s (%zu connected)", peer, secs, strerror(err),
                 heard, srv->nclients);
}

/*
 * Formats the keepalive settings an accepted socket has, read back from the
 * kernel (inherited from the listening socket), as "keepalive on, idle 2 s,
 * interval 1 s, count 3, TCP_USER_TIMEOUT 5000 ms".
 */
static void format_settings(int fd, char *out, size_t outlen)
{
    keepalive_settings s;

    if (keepalive_get(fd, &s) == -1) {
        snprintf(out, outlen, "keepalive unreadable: %s", keepalive_last_error());
        return;
    }
    snprintf(out, outlen, "keepalive %s, idle %d s, interval %d s, count %d, "
             "TCP_USER_TIMEOUT %u ms",
             s.enabled ? "on" : "OFF", s.idle, s.interval, s.count, s.user_timeout_ms);
}

/*
 * Accepts one waiting connection when the process is out of descriptors, and
 * closes it at once, so that the listener does not stay readable forever.
 * Without a spare descriptor to do that with, pauses the listener instead.
 */
static void refuse_one(struct server *srv)
{
    int fd;

    if (srv->spare_fd == -1) {
        pause_listener(srv);
        return;
    }
    close(srv->spare_fd);
    fd = accept(srv->listen_fd, NULL, NULL);
    if (fd != -1)
        close(fd);
    srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    log_time("out of file descriptors: refused a client (%zu connected)", srv->nclients);
}

/*
 * Accepts every waiting client and adds it to the epoll set. Its keepalive
 * settings are the listener's, inherited by the kernel (all four, the user
 * timeout included): the line for it shows them, read back, rather than
 * setting them again, which would only hide a socket that did not inherit.
 */
static void accept_clients(struct server *srv)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct client *cl;
    char settings[128];
    int fd;

    for (;;) {
        len = sizeof ss;
        fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            int err = errno;
            if (err == ECONNABORTED || err == EINTR)
                continue; /* that client gave up already, or a signal came: go on */
            if (err == EMFILE || err == ENFILE)
                refuse_one(srv);
            else if (err != EAGAIN && err != EWOULDBLOCK)
                fprintf(stderr, "%s: accept: %s\n", progname, strerror(err));
            return;
        }
        cl = calloc(1, sizeof *cl);
        if (cl == NULL) {
            fprintf(stderr, "%s: out of memory: refused a client\n", progname);
            close(fd);
            continue;
        }
        cl->fd = fd;
        format_peer(&ss, cl->peer, sizeof cl->peer);
        clock_gettime(CLOCK_MONOTONIC, &cl->since);
        if (watch(srv, EPOLL_CTL_ADD, fd, EPOLLIN, cl) == -1) {
            fprintf(stderr, "%s: client %s refused: %s\n", progname, cl->peer, strerror(errno));
            close(fd);
            free(cl);
            continue;
        }
        cl->next = srv->clients;
        if (cl->next != NULL)
            cl->next->prev = cl;
        srv->clients = cl;
        srv->nclients++;
        format_settings(fd, settings, sizeof settings);
        log_time("client %s connected (%zu connected): %s", cl->peer, srv->nclients, settings);
    }
}

/*
 * Sends up to len bytes from buf on a client's socket. Returns how many went
 * out (fewer than len when the socket is full), or -1 with errno set.
 */
static ssize_t send_some(int fd, const char *buf, size_t len)
{
    size_t sent = 0;

    while (sent < len) {
        ssize_t n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        sent += (size_t)n;
    }
    return (ssize_t)sent;
}

/*
 * Echoes len bytes just read into the shared buffer. What the socket cannot
 * take now is copied into the client's pending bytes, allocated to fit.
 * Returns 0 when all are sent, 1 when some wait for EPOLLOUT, or -1 with
 * errno set (ENOMEM when the rest cannot be kept).
 */
static int echo(struct client *cl, const char *buf, size_t len)
{
    ssize_t sent = send_some(cl->fd, buf, len);

    if (sent == -1)
        return -1;
    if ((size_t)sent == len)
        return 0;
    cl->pending = malloc(len - (size_t)sent);
    if (cl->pending == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(cl->pending, buf + sent, len - (size_t)sent);
    cl->pending_off = 0;
    cl->pending_len = len - (size_t)sent;
    return 1;
}

/*
 * Sends a client's pending echo bytes and frees them once all are out.
 * Returns 0 then, 1 when the socket is full again (the rest waits for
 * EPOLLOUT), or -1 with errno set.
 */
static int flush_pending(struct client *cl)
{
    ssize_t sent = send_some(cl->fd, cl->pending + cl->pending_off,
                             cl->pending_len - cl->pending_off);

    if (sent == -1)
        return -1;
    cl->pending_off += (size_t)sent;
    if (cl->pending_off < cl->pending_len)
        return 1;
    free(cl->pending);
    cl->pending = NULL;
    cl->pending_off = cl->pending_len = 0;
    return 0;
}

/*
 * Handles events on a client: echoes what it sent (reading no more while an
 * echo is still unsent), and drops it on end of stream or error.
 */
static void serve_client(struct server *srv, struct client *cl, uint32_t events)
{
    ssize_t n;
    int rc = 0;

    if (cl->pending != NULL) {
        rc = flush_pending(cl);
    } else if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        n = recv(cl->fd, srv->buffer, sizeof srv->buffer, 0);
        if (n == 0) {
            drop_client(srv, cl, 0);
            return;
        }
        if (n == -1) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                drop_client(srv, cl, errno);
            return;
        }
        rc = echo(cl, srv->buffer, (size_t)n);
    }
    if (rc == -1) {
        drop_client(srv, cl, errno);
        return;
    }
    /* Wait for room to send while an echo is pending, else for data. */
    if (cl->waiting_to_send != (rc == 1)) {
        cl->waiting_to_send = (rc == 1);
        if (watch(srv, EPOLL_CTL_MOD, cl->fd, rc == 1 ? EPOLLOUT : EPOLLIN, cl) == -1)
            drop_client(srv, cl, errno);
    }
}

/* Reads which signal arrived on the signalfd. Returns its number, or 0. */
static int read_signal(struct server *srv)
{
    struct signalfd_siginfo si;

    if (read(srv->signal_fd, &si, sizeof si) != (ssize_t)sizeof si)
        return 0;
    return (int)si.ssi_signo;
}

/*
 * The event loop: accepts, echoes, drops dead clients, until SIGINT or
 * SIGTERM. Returns 0 then, or -1 when epoll fails.
 */
static int serve(struct server *srv)
{
    struct epoll_event events[MAX_EVENTS];
    int i, n, sig;

    for (;;) {
        n = epoll_wait(srv->epoll_fd, events, MAX_EVENTS, -1);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "%s: epoll_wait: %s\n", progname, strerror(errno));
            return -1;
        }
        for (i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &signal_tag) {
                if ((sig = read_signal(srv)) != 0) {
                    log_time("%s received: closing %zu connection%s and exiting",
                             sig == SIGINT ? "SIGINT" : "SIGTERM", srv->nclients,
                             srv->nclients == 1 ? "" : "s");
                    return 0;
                }
            } else if (tag == &listener_tag) {
                accept_clients(srv);
            } else {
                serve_client(srv, tag, events[i].events);
            }
        }
    }
}

/* Closes every client connection and the server's own descriptors. */
static void shut_down(struct server *srv)
{
    while (srv->clients != NULL)
        forget_client(srv, srv->clients);
    if (srv->listen_fd != -1)
        close(srv->listen_fd);
    if (srv->signal_fd != -1)
        close(srv->signal_fd);
    if (srv->epoll_fd != -1)
        close(srv->epoll_fd);
    if (srv->spare_fd != -1)
        close(srv->spare_fd);
}

int main(int argc, char *argv[])
{
    struct server srv = { .listen_fd = -1, .epoll_fd = -1, .signal_fd = -1, .spare_fd = -1 };
    int rv = EXIT_FAILURE;
    long port;

    setvbuf(stdout, NULL, _IOLBF, 0);
    setvbuf(stderr, NULL, _IOLBF, 0);
    if (keepalive_request_init(&srv.request, sizeof srv.request) == -1) {
        fprintf(stderr, "%s: keepalive_request_init: %s\n", progname, keepalive_last_error());
        return EXIT_FAILURE;
    }

    /* Every option is checked (by libkeepalive) before anything is done;
     * the server has no option of its own. */
    while (next_option(argc, argv, ":c:d:i:D:h", &srv.request, &srv.schedule) != -1)
        continue;
    if (optind != argc - 1)
        bad_argument(optind > argc - 1 ? "missing PORT" : "too many arguments");
    port = parse_integer(argv[optind], 0, 65535);
    if (port == -1)
        bad_argument("PORT must be 0..65535, got \"%s\"", argv[optind]);

    srv.signal_fd = setup_signals();
    if (srv.signal_fd == -1)
        goto cleanup;
    /* The port first: when it is taken, that is the first line printed. */
    srv.listen_fd = create_listener((int)port, &srv);
    if (srv.listen_fd == -1)
        goto cleanup;
    raise_fd_limit();
    srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    srv.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (srv.epoll_fd == -1 ||
        watch(&srv, EPOLL_CTL_ADD, srv.listen_fd, EPOLLIN, &listener_tag) == -1 ||
        watch(&srv, EPOLL_CTL_ADD, srv.signal_fd, EPOLLIN, &signal_tag) == -1) {
        fprintf(stderr, "%s: epoll: %s\n", progname, strerror(errno));
        goto cleanup;
    }
    if (serve(&srv) == 0)
        rv = EXIT_SUCCESS;
cleanup:
    shut_down(&srv);
    return rv;
}
