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
 */
#include "policy.h"

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
} __attribute__((preserve_access_index));

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

SEC("sockops")
int keepalive_sockops(struct bpf_sock_ops *ctx)
{
    if (ctx->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
        ctx->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
        return 1;

    struct keepalive_policy *p = current_policy();
    if (!p)
        return 1;
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
    if (st)
        st->tuned++;
    return 1;
}

/* GPL-compatible: the verifier lets only such programs read struct tcp_sock
 * ("Cannot access kernel 'struct tcp_sock' from non-GPL compatible
 * program"), hence the GPL option beside the project's licence. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";
