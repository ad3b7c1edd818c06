/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The policy both programs read and the counters they keep, as laid out in
 * their maps (programs.h): the one definition of that layout, shared with
 * the loader. `Policy` and `Stats` in src/maps.rs mirror it, and their tests
 * compile this header with the C compiler and compare every field's offset
 * and size, and the POLICY_* bits, with Rust's (src/c_layout.rs). So this
 * header holds only the layout: no map, no BPF helper, nothing a host
 * compiler cannot read.
 *
 * The values were checked by libkeepalive's core (Config::check, the
 * Deadline split) before the loader wrote them: the programs only copy
 * them.
 */
#ifndef KEEPALIVE_POLICY_H
#define KEEPALIVE_POLICY_H

#include <linux/types.h>

/* Which values the policy sets (a value not set is left as it is). */
#define POLICY_IDLE         (1u << 0) /* TCP_KEEPIDLE, seconds */
#define POLICY_INTERVAL     (1u << 1) /* TCP_KEEPINTVL, seconds */
#define POLICY_COUNT        (1u << 2) /* TCP_KEEPCNT, probes */
#define POLICY_USER_TIMEOUT (1u << 3) /* TCP_USER_TIMEOUT, milliseconds */
#define POLICY_DEADLINE     (1u << 4) /* a dead-peer deadline, kept in every state */

struct keepalive_policy {
    __u32 set;     /* POLICY_* bits */
    __u32 enforce; /* 1: the policy wins over a program's own keepalive values */
    __s32 idle;
    __s32 interval;
    __s32 count;
    __s32 user_timeout_ms;
    /* With POLICY_DEADLINE: D, in milliseconds (the user timeout the policy
     * sets). At each retransmission timeout the sock_ops program shortens the
     * user timeout to what is left of D since the peer was last heard. */
    __s32 deadline_ms;
    /* The kernel's HZ (jiffies per second), measured by the loader: the
     * peer's last ACK is stamped in jiffies (tcp_sock.rcv_tstamp). */
    __u32 hz;
};

/* Counters, per CPU, summed by the loader. */
struct keepalive_stats {
    __u64 tuned;     /* connections given the policy (sock_ops) */
    __u64 kept;      /* values of its own a connection kept (sock_ops, no enforce) */
    __u64 rewritten; /* setsockopt calls rewritten to the policy (enforce) */
    __u64 failed;    /* bpf_setsockopt calls the kernel refused */
};

#endif
