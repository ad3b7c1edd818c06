/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * What the two cgroup programs (sockops.bpf.c, setsockopt.bpf.c) share: the
 * policy and counter maps, pinned by the loader under
 * /sys/fs/bpf/keepalive/cgroup-<ID>/ so that the sock_ops and the setsockopt
 * program of one cgroup share them and `keepalive cgroup list` reads them
 * back; their lookups; the socket options by number. Their layout is
 * policy.h's.
 */
#ifndef KEEPALIVE_PROGRAMS_H
#define KEEPALIVE_PROGRAMS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "policy.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct keepalive_policy);
} policy SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct keepalive_stats);
} stats SEC(".maps");

/* Socket options by their uapi numbers: <asm-generic/socket.h>, <linux/tcp.h>.
 * SOL_TCP is the protocol number (<linux/in.h> IPPROTO_TCP). */
#define KA_SOL_SOCKET       1
#define KA_SO_KEEPALIVE     9
#define KA_SOL_TCP          6
#define KA_TCP_KEEPIDLE     4
#define KA_TCP_KEEPINTVL    5
#define KA_TCP_KEEPCNT      6
#define KA_TCP_USER_TIMEOUT 18

static __always_inline struct keepalive_policy *current_policy(void)
{
    __u32 zero = 0;
    return bpf_map_lookup_elem(&policy, &zero);
}

static __always_inline struct keepalive_stats *current_stats(void)
{
    __u32 zero = 0;
    return bpf_map_lookup_elem(&stats, &zero);
}

#endif
