// SPDX-License-Identifier: MIT OR Apache-2.0 OR GPL-2.0-only
/*
 * `keepalive watch`: every TCP connection the kernel gives up on, host-wide
 * (every network namespace), with the state that says why. One program, on
 * the tracepoint sock:inet_sock_set_state (tp_btf: no tracefs needed; kernels
 * built without kprobes and fentry have it too):
 *
 * - A connection moving to CLOSE with sk_err set: tcp_done_with_error() set
 *   the error (ETIMEDOUT or the last soft error when a timer gave up,
 *   ECONNRESET or EPIPE for a reset) and purged the send queue, then closed
 *   it. What survives the purge says which timer fired: retransmissions
 *   counted (icsk_retransmits: data was in flight), a zero window being
 *   probed (icsk_probes_tstamp), keepalive probes out (icsk_probes_out);
 *   and rcv_tstamp, when the peer was last heard. It goes to user space raw
 *   (watch.h); the loader decides.
 * - The owner: a death comes in softirq or timer context, where the current
 *   task is anyone's. The move to SYN_SENT happens inside connect(), and to
 *   LISTEN inside listen(), in the caller's context: pid and comm are
 *   recorded there: a connecting socket's in the socket itself (socket
 *   storage, freed with it), a listener's by network namespace and port (an
 *   LRU hash, forgotten when it closes), which is the owner of a connection
 *   it accepted (found by the connection's local port when it dies).
 * - A full ring buffer loses the event, never silently: `drops` counts it.
 *   The reader is woken only once a quarter of the buffer waits; it looks
 *   on its own every 100 ms as well.
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "watch.h"

/* Kernel constants (include/net/tcp_states.h, <linux/in.h>, <linux/socket.h>,
 * enum sock_flags). */
#define KA_TCP_SYN_SENT 2
#define KA_TCP_CLOSE    7
#define KA_TCP_LISTEN   10
#define KA_IPPROTO_TCP  6
#define KA_AF_INET      2
#define KA_AF_INET6     10
#define KA_SOCK_DEAD    0

/* The fields read, by name: CO-RE relocates them against the running
 * kernel's BTF (include/net/sock.h, inet_connection_sock.h, tcp.h). */
struct in6_addr {
    union {
        __u8 u6_addr8[16];
    } in6_u;
} __attribute__((preserve_access_index));

struct ns_common {
    unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
    struct ns_common ns;
} __attribute__((preserve_access_index));

struct inode {
    unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file {
    struct inode *f_inode;
} __attribute__((preserve_access_index));

struct socket {
    struct file *file;
} __attribute__((preserve_access_index));

struct sock_common {
    union {
        __u64 skc_addrpair;
        struct {
            __be32 skc_daddr;
            __be32 skc_rcv_saddr;
        };
    };
    union {
        __u32 skc_portpair;
        struct {
            __be16 skc_dport;
            __u16 skc_num;
        };
    };
    unsigned short skc_family;
    volatile unsigned char skc_state;
    struct {
        struct net *net;
    } skc_net;
    struct in6_addr skc_v6_daddr;
    struct in6_addr skc_v6_rcv_saddr;
    union {
        unsigned long skc_flags; /* sk_flags */
    };
} __attribute__((preserve_access_index));

struct sock {
    struct sock_common __sk_common;
    struct socket *sk_socket;
    int sk_err;
    __u16 sk_protocol;
} __attribute__((preserve_access_index));

struct inet_sock {
    __be16 inet_sport;
} __attribute__((preserve_access_index));

struct inet_connection_sock {
    struct inet_sock icsk_inet;
    __u32 icsk_user_timeout;
    __u32 icsk_probes_tstamp;
    __u8 icsk_retransmits;
    __u8 icsk_probes_out;
} __attribute__((preserve_access_index));

struct tcp_sock {
    struct inet_connection_sock inet_conn;
    __u32 rcv_tstamp;
    __u32 snd_wnd;
} __attribute__((preserve_access_index));

#define RING_BYTES (256 * 1024)
#define WAKE_AT    (RING_BYTES / 4)

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, RING_BYTES);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} drops SEC(".maps");

/* The owner of a connection made with connect(), stored in the socket
 * itself: freed with it, no table to fill up. */
struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct keepalive_owner);
} owners SEC(".maps");

/* The current process, as the owner of a socket. */
static __always_inline void current_owner(struct keepalive_owner *o)
{
    o->pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(o->comm, sizeof(o->comm));
}

/* A listener's owner, for the connections it accepts: keyed by network
 * namespace and port (an accepted connection's local port, which is what
 * it is looked up by when one dies). */
struct listener_key {
    __u32 netns;
    __u32 port;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct listener_key);
    __type(value, struct keepalive_owner);
} listeners SEC(".maps");

static __always_inline __u32 netns_of(struct sock *sk)
{
    struct net *net = sk->__sk_common.skc_net.net;
    return net ? net->ns.inum : 0;
}

/* The connection's state as it is closed with an error, to user space. */
static __always_inline void report(struct sock *sk, struct tcp_sock *tp, int oldstate, int err)
{
    struct keepalive_death *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        __u32 zero = 0;
        __u64 *n = bpf_map_lookup_elem(&drops, &zero);
        if (n)
            __sync_fetch_and_add(n, 1);
        return;
    }
    e->time_ns = bpf_ktime_get_ns();
    e->jiffies = bpf_jiffies64();
    e->error = err;
    e->state = oldstate;

    struct socket *so = sk->sk_socket;
    e->inode = 0;
    if (so) {
        struct file *f = so->file;
        if (f) {
            struct inode *i = f->f_inode;
            if (i)
                e->inode = i->i_ino;
        }
    }
    e->netns = netns_of(sk);
    e->rcv_tstamp = tp->rcv_tstamp;
    e->probes_tstamp = tp->inet_conn.icsk_probes_tstamp;
    e->user_timeout_ms = tp->inet_conn.icsk_user_timeout;
    e->retransmits = tp->inet_conn.icsk_retransmits;
    e->probes_out = tp->inet_conn.icsk_probes_out;
    e->snd_wnd = tp->snd_wnd;
    e->orphan = (sk->__sk_common.skc_flags >> KA_SOCK_DEAD) & 1;

    __u16 family = sk->__sk_common.skc_family;
    e->family = family;
    /* Not skc_num: closing released the port (inet_put_port()) before
     * the tracepoint; inet_sport keeps it. */
    e->local_port = tp->inet_conn.icsk_inet.inet_sport;
    e->remote_port = sk->__sk_common.skc_dport;
    __builtin_memset(e->local_addr, 0, sizeof(e->local_addr));
    __builtin_memset(e->remote_addr, 0, sizeof(e->remote_addr));
    if (family == KA_AF_INET6) {
        bpf_probe_read_kernel(e->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
        bpf_probe_read_kernel(e->remote_addr, 16, &sk->__sk_common.skc_v6_daddr);
    } else {
        __be32 l = sk->__sk_common.skc_rcv_saddr, r = sk->__sk_common.skc_daddr;
        __builtin_memcpy(e->local_addr, &l, 4);
        __builtin_memcpy(e->remote_addr, &r, 4);
    }

    struct keepalive_owner *o = bpf_sk_storage_get(&owners, sk, 0, 0);
    if (!o) {
        struct listener_key lk = {.netns = e->netns, .port = bpf_ntohs(e->local_port)};
        o = bpf_map_lookup_elem(&listeners, &lk);
    }
    e->pad = 0;
    if (o) {
        e->owner = o->how;
        e->pid = o->pid;
        __builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
    } else {
        e->owner = 0;
        e->pid = 0;
        __builtin_memset(e->comm, 0, sizeof(e->comm));
    }
    /* Waking the reader costs more than all the rest (an interrupt, about
     * 5 us a death here): wake it only once a quarter of the buffer waits.
     * It also looks every POLL_INTERVAL (src/watch.rs), so a lone death is
     * printed within that, and a flood in batches. */
    __u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
    bpf_ringbuf_submit(e, waiting >= WAKE_AT ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

SEC("tp_btf/inet_sock_set_state")
int watch_state(__u64 *ctx)
{
    struct sock *sk = (struct sock *)ctx[0];
    int oldstate = (int)ctx[1];
    int newstate = (int)ctx[2];

    if (!sk || sk->sk_protocol != KA_IPPROTO_TCP)
        return 0;
    if (newstate == KA_TCP_SYN_SENT) { /* inside connect(): the caller's context */
        struct keepalive_owner *o =
            bpf_sk_storage_get(&owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
        if (o) {
            o->how = OWNER_CONNECT;
            current_owner(o);
        }
    } else if (newstate == KA_TCP_LISTEN) { /* inside listen(), after bind() */
        struct listener_key lk = {.netns = netns_of(sk), .port = sk->__sk_common.skc_num};
        struct keepalive_owner o = {.how = OWNER_LISTENER};
        current_owner(&o);
        bpf_map_update_elem(&listeners, &lk, &o, BPF_ANY);
    } else if (newstate == KA_TCP_CLOSE) {
        struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
        if (!tp)
            return 0;
        if (oldstate == KA_TCP_LISTEN) {
            /* The port was released (skc_num is 0 now); inet_sport keeps it. */
            struct listener_key lk = {.netns = netns_of(sk),
                                      .port = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport)};
            bpf_map_delete_elem(&listeners, &lk);
            return 0;
        }
        /* tcp_done_with_error() set sk_err before closing: the kernel gave
         * up on the connection, or it was reset. A clean close has none. */
        int err = sk->sk_err;
        if (err)
            report(sk, tp, oldstate, err);
    }
    return 0;
}

/* GPL-compatible: reading struct tcp_sock, bpf_ktime_get_ns and
 * bpf_probe_read_kernel need it; hence the GPL option beside the project's
 * licence. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";
