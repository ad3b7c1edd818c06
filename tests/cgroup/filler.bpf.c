// SPDX-License-Identifier: MIT OR Apache-2.0
/* A cgroup/setsockopt program that lets every call through: the failure
 * test attaches 64 of them (the kernel's limit per hook and cgroup) so that
 * attaching ours fails midway. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("cgroup/setsockopt")
int filler(struct bpf_sockopt *ctx)
{
    if (ctx->optlen > 4096)
        ctx->optlen = 0;
    return 1;
}

char LICENSE[] SEC("license") = "MIT OR Apache-2.0";
