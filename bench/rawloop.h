/* The raw-syscall baselines of the benchmarks; see rawloop.c. */
#ifndef RAWLOOP_H
#define RAWLOOP_H

/* n rounds of setsockopt TCP_KEEPIDLE=30, TCP_KEEPINTVL=7, TCP_KEEPCNT=4,
 * SO_KEEPALIVE=1 (what keepalive_set(fd, {30, 7, 4}) stands for).
 * Returns 0, or -1 with errno set at the first failure. */
int rawloop_set(int fd, int n);

/* n rounds of getsockopt SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
 * TCP_KEEPCNT, TCP_USER_TIMEOUT (what keepalive_get stands for).
 * Returns 0, or -1 with errno set at the first failure. */
int rawloop_get(int fd, int n);

#endif
