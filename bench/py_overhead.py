"""What libkeepalive's Python calls cost beside the plain socket calls they replace.

    keepalive.enable(sock, idle=30, interval=7, count=4)
        vs  sock.setsockopt x 4 (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, SO_KEEPALIVE)
    keepalive.get(sock), its five fields read (.enabled .idle .interval .count
    .user_timeout_ms): what a user pays to look at the settings
        vs  sock.getsockopt x 5 (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT,
                                 TCP_USER_TIMEOUT), the five ints in a tuple

Usage: python py_overhead.py RAWLOOP_SO [ROUNDS [BATCH]]   (defaults 41 rounds of 3000 calls)

RAWLOOP_SO is bench/rawloop.c built as a shared object: its C loops of the
same syscalls, one ctypes call per batch, give the syscall floor for context.

Both sides run on the same connected loopback socket. Each round times one
batch of each (time.perf_counter_ns around the batch), alternating which goes
first; the figure is the median of the per-round ratios library/plain. The
plain side is written the fast way (bound method, constants in locals), so the
library is compared with the best plain Python, not a slow straw man.

Target (issue 14): each call within 0.10 of the syscall floor measured in
the same run, that is at most 0.10 x the plain calls' time above what the
same syscalls cost from C.

Prints progress on stderr and one line per figure on stdout:
    ROW <TAB> figure <TAB> measured <TAB> target <TAB> PASS|MISS
"""

import ctypes
import os
import socket
import statistics
import sys
import time

import keepalive

# How far above the syscall floor (as a ratio to the plain calls) each call may be.
ABOVE_FLOOR = 0.10


def connected_pair():
    """A TCP socket connected over loopback, and its accepted peer."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        sock = socket.create_connection(listener.getsockname())
        peer, _ = listener.accept()
    return sock, peer


def lib_enable(sock, n):
    enable = keepalive.enable
    for _ in range(n):
        enable(sock, idle=30, interval=7, count=4)


def raw_enable(sock, n):
    setsockopt = sock.setsockopt
    tcp, sol = socket.IPPROTO_TCP, socket.SOL_SOCKET
    idle, intvl, cnt, on = socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT, socket.SO_KEEPALIVE
    for _ in range(n):
        setsockopt(tcp, idle, 30)
        setsockopt(tcp, intvl, 7)
        setsockopt(tcp, cnt, 4)
        setsockopt(sol, on, 1)


def lib_get(sock, n):
    get = keepalive.get
    for _ in range(n):
        s = get(sock)
        s = (s.enabled, s.idle, s.interval, s.count, s.user_timeout_ms)
    return s


def lib_get_alternating(other):
    """lib_get, every other call on `other`, a socket tuned otherwise: the
    cost when no Settings object can be reused (each call makes one)."""
    def f(sock, n):
        get = keepalive.get
        for _ in range(n // 2):
            s = get(sock)
            s = (s.enabled, s.idle, s.interval, s.count, s.user_timeout_ms)
            s = get(other)
            s = (s.enabled, s.idle, s.interval, s.count, s.user_timeout_ms)
        return s
    return f


def raw_get(sock, n):
    getsockopt = sock.getsockopt
    tcp, sol = socket.IPPROTO_TCP, socket.SOL_SOCKET
    on, idle, intvl, cnt = socket.SO_KEEPALIVE, socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT
    ut = socket.TCP_USER_TIMEOUT
    for _ in range(n):
        s = (getsockopt(sol, on), getsockopt(tcp, idle), getsockopt(tcp, intvl),
             getsockopt(tcp, cnt), getsockopt(tcp, ut))
    return s


def check_real(sock):
    """Fails unless keepalive.get reads what the kernel holds and enable sets it."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 100)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 50)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 9)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 1234)
    s = keepalive.get(sock)
    got = (s.enabled, s.idle, s.interval, s.count, s.user_timeout_ms)
    if got != (False, 100, 50, 9, 1234):
        sys.exit(f"py_overhead: keepalive.get read {got}, the socket holds (False, 100, 50, 9, 1234)")
    lib_enable(sock, 1)
    got = tuple(raw_get(sock, 1)[:4])
    if got != (1, 30, 7, 4):
        sys.exit(f"py_overhead: after keepalive.enable the socket holds {got}, want (1, 30, 7, 4)")


def compare(figure, contenders, sock, rounds, batch):
    """Times the contenders interleaved, in a rotating order, `rounds` times.

    contenders: (label, function) pairs; the first is the library call of the
    figure, the second the plain Python baseline, the last the syscall floor,
    any others are shown for context, each as its median per-round ratio to
    the baseline. The target is the floor's ratio + ABOVE_FLOOR.
    """
    for _, f in contenders:  # warm up
        f(sock, batch)
    clock = time.perf_counter_ns
    took = {label: [] for label, _ in contenders}
    for r in range(rounds):
        k = r % len(contenders)
        for label, f in contenders[k:] + contenders[:k]:
            t0 = clock()
            f(sock, batch)
            took[label].append(clock() - t0)
        if (r + 1) % 10 == 0 or r + 1 == rounds:
            print(f"   {figure}: round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    base = took[contenders[1][0]]
    ratio = {label: statistics.median(t / b for t, b in zip(took[label], base))
             for label, _ in contenders}
    target = ratio[contenders[-1][0]] + ABOVE_FLOOR
    for i, (label, _) in enumerate(contenders):
        if i == 1:
            continue
        m = ratio[label]
        ns = statistics.median(took[label]) / batch
        measured = f"{m:.3f}x ({ns:.0f} vs {statistics.median(base) / batch:.0f} ns)"
        if i == 0:
            verdict = "PASS" if m <= target else "MISS"
            print(f"ROW\t{figure}\t{measured}\t<= {target:.3f}x (floor + {ABOVE_FLOOR:.2f})\t{verdict}",
                  flush=True)
        else:
            print(f"ROW\t  ({label})\t{measured}\t-\t-", flush=True)


def rawloop(path):
    """The C loops of bench/rawloop.c through ctypes: one call per batch, so
    they time the syscalls alone (the floor no Python call can go under)."""
    lib = ctypes.CDLL(path, use_errno=True)

    def check(rc, *_):
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    def c_set(sock, n):
        check(lib.rawloop_set(sock.fileno(), n))

    def c_get(sock, n):
        check(lib.rawloop_get(sock.fileno(), n))

    return c_set, c_get


def fd_of(f):
    """f called with the socket's int descriptor instead of the socket."""
    return lambda sock, n: f(sock.fileno(), n)


def main():
    try:
        rawloop_path = sys.argv[1]
        args = [int(a) for a in sys.argv[2:]]
        if len(args) > 2 or any(a < 1 for a in args):
            raise ValueError
    except (ValueError, IndexError):
        sys.exit("usage: py_overhead.py RAWLOOP_SO [ROUNDS [BATCH]]")
    rounds = args[0] if args else 41
    batch = args[1] if len(args) > 1 else 3000
    sock, peer = connected_pair()
    other, other_peer = connected_pair()
    keepalive.enable(other, idle=31, interval=7, count=4)
    check_real(sock)
    print(f"   keepalive {keepalive.__version__} on Python {sys.version.split()[0]}: "
          f"{rounds} rounds of {batch} calls, interleaved", file=sys.stderr, flush=True)
    c_set, c_get = rawloop(rawloop_path)
    compare("Python enable vs 4 setsockopt",
            [("enable(sock, ...)", lib_enable), ("4 x sock.setsockopt", raw_enable),
             ("enable(fd, ...): an int descriptor", fd_of(lib_enable)),
             ("syscall floor: the 4 setsockopt in a C loop", c_set)],
            sock, rounds, batch)
    compare("Python get vs 5 getsockopt",
            [("get(sock) + 5 fields read", lib_get), ("5 x sock.getsockopt", raw_get),
             ("get(fd) + 5 fields read: an int descriptor", fd_of(lib_get)),
             ("get + 5 fields, two sockets tuned apart in turn: a new Settings each call",
              lib_get_alternating(other)),
             ("syscall floor: the 5 getsockopt in a C loop", c_get)],
            sock, rounds, batch)
    for s in (sock, peer, other, other_peer):
        s.close()


if __name__ == "__main__":
    main()
