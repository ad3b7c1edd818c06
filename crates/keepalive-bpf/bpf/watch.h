/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * What watch.bpf.c hands to `keepalive watch` for every TCP connection the
 * kernel ends with an error: the connection's state at that moment, raw.
 * The loader (src/watch.rs) decides everything from it: which rule ended
 * the connection (libkeepalive's keepalive::Ending::cause), how long the
 * peer had been silent (jiffies, converted with the kernel's HZ), whether
 * to report it at all. The layout is mirrored by `RawDeath` in
 * src/watch.rs, whose test compiles this header with the C compiler and
 * compares every field's offset and size, and the OWNER_* values, with
 * Rust's (src/c_layout.rs); so this header needs nothing but
 * <linux/types.h>.
 */
#ifndef KEEPALIVE_WATCH_H
#define KEEPALIVE_WATCH_H

#include <linux/types.h>

#define WATCH_COMM_LEN 16

struct keepalive_death {
    __u64 time_ns;         /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
    __u64 jiffies;         /* bpf_jiffies64() at the same moment */
    __u64 inode;           /* the socket's inode (socket:[INODE]); 0 for an orphan */
    __u32 netns;           /* the network namespace's inode (ip netns identify) */
    __u32 pid;             /* the owner's process id, unless owner is OWNER_UNKNOWN */
    __u32 rcv_tstamp;      /* tp->rcv_tstamp: jiffies (low 32 bits) of the peer's last ACK */
    __u32 probes_tstamp;   /* icsk_probes_tstamp: jiffies when window probing began; 0: none */
    __u32 user_timeout_ms; /* icsk_user_timeout */
    __u32 snd_wnd;         /* tp->snd_wnd: the peer's receive window */
    __u32 pad32;
    __s32 error;           /* tcp_done_with_error()'s err */
    __u16 family;          /* AF_INET or AF_INET6 */
    __u16 local_port;      /* inet_sport: network order, as the kernel keeps it */
    __u16 remote_port;     /* skc_dport: network order */
    __u8 state;            /* the state it is closed from */
    __u8 probes_out;       /* icsk_probes_out */
    __u8 retransmits;      /* icsk_retransmits */
    __u8 orphan;           /* SOCK_DEAD: its program had closed it already */
    __u8 owner;            /* OWNER_*: how pid and comm were recorded */
    __u8 pad;
    __u8 local_addr[16];   /* IPv4: the first 4 bytes; network order */
    __u8 remote_addr[16];
    char comm[WATCH_COMM_LEN];
};

/* How the owner was recorded. */
#define OWNER_UNKNOWN  0 /* not at all (the connection predates the watch) */
#define OWNER_CONNECT  1 /* the process that called connect() */
#define OWNER_LISTENER 2 /* the process that called listen() on the listener that accepted it */

/* Who made a connection or the listener that accepted it, recorded in
 * process context. */
struct keepalive_owner {
    __u32 pid;
    __u32 how; /* OWNER_* */
    char comm[WATCH_COMM_LEN];
};

#endif
