// SPDX-License-Identifier: MIT OR Apache-2.0 OR GPL-2.0-only
/*
 * sock_ops: every TCP connection that a process of the cgroup makes or
 * accepts gets the policy as it is established.
 *
 * Without enforce, a value the program set on the socket itself before
 * connecting (or that an accepted socket inherited from its listener) is
 * kept: the kernel stores zero in tcp_sock.keepalive_time, keepalive_intvl,
 * keepalive_probes and icsk_user_timeout until someone sets them, so a
 * non-zero field is the program's own choice. Values set after connecting
 * (Go's dialer) come later and win anyway; `enforce` attaches the
 * setsockopt program for those.
 *
 * A deadline policy (`-D`) is kept in every state, not only while idle:
 * Linux counts TCP_USER_TIMEOUT from the first retransmission, so a program
 * that writes to a connection whose peer went silent long before would live
 * up to 2 D after the peer was last heard. The program asks for the
 * retransmission-timeout callback (BPF_SOCK_OPS_RTO_CB) on each connection
 * it tunes, and there shortens the user timeout to what is left of D since
 * the peer was last heard (tcp_sock.rcv_tstamp): the kernel clamps its next
 * retransmission timer to the user timeout (tcp_clamp_rto_to_user_timeout)
 * and ends the connection D after the peer was last heard. While shortened
 * it also asks for the RTT callback, which comes when an ACK acknowledges
 * new data: the peer is heard again, and gets its full D back (the idle rule
 * and the zero-window probes use the user timeout too). A connection being
 * made (BPF_SOCK_OPS_TCP_CONNECT_CB, before its SYN) gets the user timeout
 * at once, so that a SYN to a dead host fails D after it too.
 */
#include "programs.h"
#include <bpf/bpf_core_read.h>

/* The fields read, by name: CO-RE relocates them against the running
 * kernel's BTF (net/tcp.h, net/inet_connection_sock.h). */
struct inet_connection_sock {
    __u32 icsk_user_timeout;
} __attribute__((preserve_access_index));

struct tcp_sock {
    struct inet_connection_sock inet_conn;
    __u32 keepalive_time;
    __u32 keepalive_intvl;
    __u8 keepalive_probes;
    __u32 rcv_tstamp;    /* jiffies: the peer's last ACK */
    __u32 retrans_stamp; /* the first retransmission, in tcp_time_stamp_ts units */
    __u64 tcp_mstamp;    /* now, in microseconds (the timer refreshed it) */
    __u8 tcp_usec_ts : 1; /* 6.7+: retrans_stamp in microseconds, not ms */
} __attribute__((preserve_access_index));

/* The shortest user timeout ever set: 0 would mean "the kernel's default". */
#define MIN_USER_TIMEOUT_MS 1
#define MAX_USER_TIMEOUT_MS 0x7fffffff

/* Sets one option to `value` unless the socket has one of its own (`own`
 * non-zero) and the policy does not enforce. Counts what it did. */
static __always_inline void apply(struct bpf_sock_ops *ctx, struct keepalive_stats *st,
                                  int enforce, __u32 own, int level, int option, int value)
{
    if (own && !enforce) {
        if (st)
            st->kept++;
        return;
    }
    if (bpf_setsockopt(ctx, level, option, &value, sizeof(value)) && st)
        st->failed++;
}

/* The policy, as the connection is established. */
static __always_inline void tune(struct bpf_sock_ops *ctx, struct keepalive_policy *p)
{
    struct keepalive_stats *st = current_stats();

    __u32 own_idle = 0, own_interval = 0, own_count = 0, own_user_timeout = 0;
    struct bpf_sock *sk = ctx->sk;
    if (sk) {
        struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
        if (tp) {
            own_idle = tp->keepalive_time;
            own_interval = tp->keepalive_intvl;
            own_count = tp->keepalive_probes;
            own_user_timeout = tp->inet_conn.icsk_user_timeout;
        }
    }

    /* A deadline's user timeout, set by connecting() below, is not the
     * program's own. */
    if ((p->set & POLICY_DEADLINE) && own_user_timeout == (__u32)p->user_timeout_ms)
        own_user_timeout = 0;

    /* The values first, SO_KEEPALIVE last, as libkeepalive's set() does. */
    int enforce = p->enforce != 0;
    if (p->set & POLICY_IDLE)
        apply(ctx, st, enforce, own_idle, KA_SOL_TCP, KA_TCP_KEEPIDLE, p->idle);
    if (p->set & POLICY_INTERVAL)
        apply(ctx, st, enforce, own_interval, KA_SOL_TCP, KA_TCP_KEEPINTVL, p->interval);
    if (p->set & POLICY_COUNT)
        apply(ctx, st, enforce, own_count, KA_SOL_TCP, KA_TCP_KEEPCNT, p->count);
    if (p->set & POLICY_USER_TIMEOUT)
        apply(ctx, st, enforce, own_user_timeout, KA_SOL_TCP, KA_TCP_USER_TIMEOUT,
              p->user_timeout_ms);
    apply(ctx, st, 1, 0, KA_SOL_SOCKET, KA_SO_KEEPALIVE, 1);
    /* The deadline's retransmission callback, unless the program keeps a
     * user timeout of its own. */
    if ((p->set & POLICY_DEADLINE) && (enforce || !own_user_timeout) &&
        bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_RTO_CB_FLAG) &&
        st)
        st->failed++;
    if (st)
        st->tuned++;
}

/* Sets TCP_USER_TIMEOUT; counts a refusal. */
static __always_inline void set_user_timeout(struct bpf_sock_ops *ctx, __u64 ms)
{
    int value = ms < MIN_USER_TIMEOUT_MS   ? MIN_USER_TIMEOUT_MS
                : ms > MAX_USER_TIMEOUT_MS ? MAX_USER_TIMEOUT_MS
                                           : (int)ms;
    if (bpf_setsockopt(ctx, KA_SOL_TCP, KA_TCP_USER_TIMEOUT, &value, sizeof(value))) {
        struct keepalive_stats *st = current_stats();
        if (st)
            st->failed++;
    }
}

/* A deadline bounds connecting too: the user timeout, set before the SYN
 * goes out (tcp_connect()), ends the SYN retransmissions D after it instead
 * of tcp_syn_retries' 127 s. The keepalive values wait for the connection. */
static __always_inline void connecting(struct bpf_sock_ops *ctx, struct keepalive_policy *p)
{
    if (!(p->set & POLICY_DEADLINE) || !(p->set & POLICY_USER_TIMEOUT) || !ctx->sk)
        return;
    struct tcp_sock *tp = bpf_skc_to_tcp_sock(ctx->sk);
    if (!tp)
        return;
    /* A user timeout of the program's own is counted once, as the
     * connection is established. */
    if (tp->inet_conn.icsk_user_timeout && !p->enforce)
        return;
    set_user_timeout(ctx, (__u64)p->user_timeout_ms);
}

/* A retransmission timeout (tcp_write_timeout(), after it decided whether
 * this one is fatal): the user timeout becomes the time since the first
 * retransmission plus what is left of D since the peer was last heard, so
 * that the kernel's next check, on a timer it clamps to it, ends the
 * connection D after the peer was last heard. Each clock is only compared
 * with itself: rcv_tstamp with jiffies, retrans_stamp with tcp_mstamp. */
static __always_inline void keep_deadline(struct bpf_sock_ops *ctx, struct keepalive_policy *p)
{
    if (!(p->set & POLICY_DEADLINE) || p->deadline_ms <= 0 || !p->hz || !ctx->sk)
        return;
    struct tcp_sock *tp = bpf_skc_to_tcp_sock(ctx->sk);
    if (!tp)
        return;
    int shortened = ctx->bpf_sock_ops_cb_flags & BPF_SOCK_OPS_RTT_CB_FLAG;
    /* A user timeout the program set since (not ours, not D) is its own. */
    if (!shortened && !p->enforce && tp->inet_conn.icsk_user_timeout != (__u32)p->deadline_ms)
        return;

    __u32 silent_jiffies = (__u32)bpf_jiffies64() - tp->rcv_tstamp;
    __u64 silent_ms = (__u64)silent_jiffies * 1000 / p->hz;
    __u64 left_ms = silent_ms < (__u64)p->deadline_ms ? (__u64)p->deadline_ms - silent_ms : 0;

    /* Zero before the first retransmission, which this timeout is about to
     * send and stamp "now". */
    __u64 since_first_ms = 0;
    __u32 first = tp->retrans_stamp;
    if (first) {
        __u64 now_us = tp->tcp_mstamp;
        int usec = 0;
        if (bpf_core_field_exists(tp->tcp_usec_ts))
            usec = BPF_CORE_READ_BITFIELD(tp, tcp_usec_ts);
        if (usec)
            since_first_ms = ((__u32)now_us - first) / 1000;
        else
            since_first_ms = (__u32)(now_us / 1000) - first;
    }
    set_user_timeout(ctx, since_first_ms + left_ms);
    if (!shortened)
        bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_RTT_CB_FLAG);
}

/* An ACK acknowledged new data (an RTT sample): the peer is heard again and
 * gets its full D back. */
static __always_inline void restore_deadline(struct bpf_sock_ops *ctx, struct keepalive_policy *p)
{
    if (!(ctx->bpf_sock_ops_cb_flags & BPF_SOCK_OPS_RTT_CB_FLAG))
        return;
    if ((p->set & POLICY_DEADLINE) && p->deadline_ms > 0)
        set_user_timeout(ctx, (__u64)p->deadline_ms);
    bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags & ~BPF_SOCK_OPS_RTT_CB_FLAG);
}

SEC("sockops")
int keepalive_sockops(struct bpf_sock_ops *ctx)
{
    __u32 op = ctx->op;
    if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB &&
        op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_RTO_CB &&
        op != BPF_SOCK_OPS_RTT_CB)
        return 1;

    struct keepalive_policy *p = current_policy();
    if (!p)
        return 1;
    if (op == BPF_SOCK_OPS_TCP_CONNECT_CB)
        connecting(ctx, p);
    else if (op == BPF_SOCK_OPS_RTO_CB)
        keep_deadline(ctx, p);
    else if (op == BPF_SOCK_OPS_RTT_CB)
        restore_deadline(ctx, p);
    else
        tune(ctx, p);
    return 1;
}

/* GPL-compatible: the verifier lets only such programs read struct tcp_sock
 * ("Cannot access kernel 'struct tcp_sock' from non-GPL compatible
 * program"), hence the GPL option beside the project's licence. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";
