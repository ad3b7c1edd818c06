// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * cgroup/setsockopt, attached with --enforce only: a program of the cgroup
 * that sets keepalive itself gets the policy's value instead of its own.
 * SO_KEEPALIVE is rewritten to on; TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT
 * and TCP_USER_TIMEOUT to the values the policy sets (those it does not set
 * pass unchanged). Every other call passes untouched.
 */
#include "programs.h"

#define KA_IPPROTO_TCP   6
#define KA_IPPROTO_MPTCP 262
/* The kernel shows a program at most one page of optval
 * (Documentation/bpf/prog_cgroup_sockopt.rst). */
#define KA_PAGE_SIZE     4096

/* The policy's value for this call, or -1 to leave the call alone. */
static __always_inline int policy_value(const struct keepalive_policy *p, int level, int option)
{
    if (level == KA_SOL_SOCKET && option == KA_SO_KEEPALIVE)
        return 1;
    if (level != KA_SOL_TCP)
        return -1;
    if (option == KA_TCP_KEEPIDLE && (p->set & POLICY_IDLE))
        return p->idle;
    if (option == KA_TCP_KEEPINTVL && (p->set & POLICY_INTERVAL))
        return p->interval;
    if (option == KA_TCP_KEEPCNT && (p->set & POLICY_COUNT))
        return p->count;
    if (option == KA_TCP_USER_TIMEOUT && (p->set & POLICY_USER_TIMEOUT))
        return p->user_timeout_ms;
    return -1;
}

SEC("cgroup/setsockopt")
int keepalive_setsockopt(struct bpf_sockopt *ctx)
{
    struct keepalive_policy *p = current_policy();
    struct bpf_sock *sk = ctx->sk;
    int value = -1;

    if (p && p->enforce && sk &&
        (sk->protocol == KA_IPPROTO_TCP || sk->protocol == KA_IPPROTO_MPTCP))
        value = policy_value(p, ctx->level, ctx->optname);

    if (value < 0) {
        /* Not ours: an option longer than a page must be handed back
         * with optlen 0 so that the kernel uses the caller's buffer. */
        if (ctx->optlen > KA_PAGE_SIZE)
            ctx->optlen = 0;
        return 1;
    }

    int *optval = ctx->optval;
    if ((void *)(optval + 1) > ctx->optval_end)
        return 1; /* shorter than an int: the kernel refuses it itself */
    if (*optval != value) {
        *optval = value;
        struct keepalive_stats *st = current_stats();
        if (st)
            st->rewritten++;
    }
    return 1;
}

/* The project's licence; no GPL-only helper is called. */
char LICENSE[] SEC("license") = "MIT OR Apache-2.0";
