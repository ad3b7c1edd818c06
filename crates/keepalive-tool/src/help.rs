//! The long help texts (`--help` after the options), one per command: what
//! each does, its output, its exit status and an example. clap_mangen puts
//! them into the manual pages too.

pub(crate) const AFTER_HELP: &str = "\
Exit status: 0 done, 1 the system refused (the reason is printed: permission,
kernel too old, no such process, not a TCP socket), 2 usage (nothing changed).

Each subcommand has a manual page (man keepalive-show, keepalive-set, ...).
docs/operator.md (installed in share/doc/libkeepalive/docs/) has a
session, the permission model, and how this compares with gdb and ss.";

pub(crate) const MEASURE_HELP: &str = "\
Opens test connections to HOST:PORT (any TCP server: nothing is sent), each
with keepalive set so that its first probe goes out after a chosen silence,
and reads from the kernel (TCP_INFO) whether the peer answered it or the
path dropped it or answered with a reset. It bisects between the longest
silence answered and the shortest not, several connections at a time, and
prints the bracket and a max_idle to use (`keepalive set -D ... --max-idle`).
Progress goes to stderr. Every test connection is closed at the end: those
still open with a FIN, those the path forgot with a reset.

It cannot see a middlebox that forgets flows only under memory pressure,
one that keeps flows alive by its own probes, or timeouts that differ per
port or per flow; see docs/middleboxes.md.

--json prints one object: target, idle_timeout_s ([lower, upper] seconds, or
null when every connection survived up to --max), recommended_max_idle_s
(null then too), connections, elapsed_s.

Exit status: 0 measured (found or not), 1 cannot connect (refused,
unreachable, or a name that does not resolve), 2 usage (no port, --max out
of range).

Example:
  keepalive measure db.example.org:5432 --max 900";

pub(crate) const CGROUP_HELP: &str = "\
A BPF sock_ops program attached to a cgroup v2 gives every TCP connection a
process of that cgroup (or of a cgroup below it) makes or accepts the policy,
whatever the program is built with: static C, Go, setuid. The attachment is
pinned in the BPF filesystem and outlasts the command. Needs root.

See docs/cgroup.md (installed in share/doc/libkeepalive/docs/) and
keepalive-cgroup-attach(1).";

pub(crate) const CGROUP_ATTACH_HELP: &str = "\
CGROUP is a cgroup v2 directory, e.g. /sys/fs/cgroup/system.slice/app.service.
The values are those of `keepalive set`: -D SECONDS is the dead-peer deadline
(-D 5 is 2/1/3 and 5000 ms); -d/-i/-c/-u set single values and leave the others
as each socket has them; with none, the policy only turns keepalive on with the
system's defaults. Attaching again replaces the cgroup's policy.

Without --enforce a program that sets its own keepalive keeps it; with it, the
programs' own keepalive setsockopt calls are rewritten to the policy too.

New connections get the policy from the moment the program is attached; then the
connections that exist already are retuned, through pidfd_getfd as `keepalive
set` does (this needs ptrace rights over the cgroup's processes; root has them).
When some could not be retuned, they are named and the exit status is 1, with
the policy attached all the same.

Example:
  keepalive cgroup attach /sys/fs/cgroup/system.slice/app.service -D 60";

pub(crate) const CGROUP_LIST_HELP: &str = "\
POLICY reads `on IDLE/INTERVAL/COUNT USER_TIMEOUT`, with - where the policy
leaves a socket's own value. TUNED counts sockets given the policy as their
connection was established, KEPT values of their own that connections kept,
REWRITTEN the programs' own keepalive calls rewritten under --enforce, FAILED
bpf_setsockopt calls the kernel refused.

STATE is the kernel's word, from the pinned links: attached; detached (the
cgroup was removed, so the kernel detached the programs); not attached (an
attach or detach was killed midway). `list` changes nothing: `keepalive cgroup
prune` removes the pins of those not attached.

--json prints one array of objects: cgroup (null when the cgroup was removed or
no cgroup v2 mount here shows it), cgroup_id, state (attached, detached,
not-attached), idle, interval, count, user_timeout_ms (null where the policy
leaves the value), enforce, tuned, kept, rewritten, failed, pins.";

pub(crate) const WATCH_HELP: &str = "\
Prints one line for every TCP connection the kernel gives up on, on the whole
host (every network namespace, every container), as it happens, until SIGINT or
SIGTERM (exit 0):

  TIME     when (local time; --json: RFC 3339, UTC)
  PID, COMMAND  the process that made the connection (recorded at connect()),
           or for an accepted one the process holding its socket (else the
           listener's); - when unknown (made before the watch started)
  CAUSE    keepalive        keepalive probes unanswered (idle connection)
           user-timeout     data unacknowledged for TCP_USER_TIMEOUT
           retransmissions  data unacknowledged through tcp_retries2
           zero-window      the peer stopped reading (its window stayed shut)
           reset            the peer sent a reset
  SILENT   since the peer was last heard from (its last ACK)

--json prints one object a line, flushed as it happens: time, pid, command,
local, remote, cause, silent_ms, and owner (connect, listener, fd, unknown),
state, error, user_timeout_ms, probes_out, retransmits, window_probed_ms,
orphan, netns, inode. Events lost to a full ring buffer are counted on stderr.

--metrics ADDR:PORT also serves, on http://ADDR:PORT/metrics, the counters
keepalive_watch_deaths_total{cause=...} and keepalive_watch_events_lost_total
in Prometheus's text format.

Needs root (CAP_BPF and CAP_PERFMON): a BPF program on the tracepoint
sock:inet_sock_set_state, removed when the watch ends. See docs/operator.md.";

pub(crate) const SHOW_HELP: &str = "\
Lists every TCP socket (IPv4, IPv6, MPTCP) of the given processes, or of
every process you may inspect, one row per socket, sorted by pid and fd:

  KEEPALIVE     SO_KEEPALIVE on or off
  IDLE INTVL CNT  TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT (the system
                defaults when the program set none)
  USER-TIMEOUT  TCP_USER_TIMEOUT (- : the kernel's default)
  DEAD-IDLE     an idle connection is declared dead this long after its peer
                was last heard from, by the kernel's rule (with a user timeout
                set, that replaces CNT); - : keepalive off, no bound
  DEAD-BUSY     one with data in flight, this long after the last ACK (the
                user timeout; - : tcp_retries2 decides, about 15 min)
  PROBES        keepalive probes out and unanswered
  LAST-ACK      since the peer's last ACK
  DEAD-IN       until the kernel gives up on the peer if it stays silent
                (- : no bound, e.g. keepalive off on an idle connection)

The table fits the terminal (COLUMNS, or its width): less important columns
are dropped first; a pipe gets whole rows. --json prints one array of objects:
pid, command, fd, protocol, local, remote, state, enabled, idle, interval
(seconds), count, user_timeout_ms, dead_after_ms, dead_after_busy_ms,
probes_until_dead, phase, probes_out, last_ack_ms, last_data_ms, unacked,
dead_in_ms, longest_silence_ms, inode. remote is null for a listener,
dead_in_ms null where no bound is in force, longest_silence_ms null with
keepalive off.

--max-idle SECONDS lists only the connections a NAT, firewall or load
balancer that forgets flows silent that long would forget: keepalive off, or
idle + interval, each timer late by up to an eighth, that long or longer
(longest_silence_ms in --json); a count goes to stderr.

Processes you may not inspect are counted in one line on stderr; a PID given
that cannot be inspected, or does not exist, is an error (exit 1).";

pub(crate) const SET_HELP: &str = "\
Takes a duplicate of each of the process's TCP sockets (pidfd_getfd, Linux 5.6+)
and sets keepalive on it through libkeepalive: socket options belong to the
socket, so the process's own connection changes, with no stop and no restart.
Listening sockets are included: the connections they accept from then on
inherit the values. Each socket is set all or nothing and printed as
  pid P fd F LOCAL -> REMOTE STATE: keepalive BEFORE -> AFTER (dead after ...)
with BEFORE and AFTER as `on|off IDLE/INTVL/CNT USER_TIMEOUT ms`. Keepalive is
turned on by every set.

-D SECONDS: one promise, dead about SECONDS after the peer was last heard from,
idle or busy: sets idle, interval, count and TCP_USER_TIMEOUT together (e.g.
-D 5 is 2/1/3 and 5000 ms). Otherwise -d/-i/-c/-u set those values, leaving
the others as they are. --max-idle SECONDS (with -D): the silence a NAT,
firewall or load balancer on the path tolerates (`keepalive measure` finds
it); the split then keeps a healthy connection from being silent that long,
even with one probe lost, and the deadline still holds (refused, naming both,
when they cannot both hold).

Values are checked before any process is touched (exit 2, nothing changed).
Exit 1, nothing changed: no such process, no permission, a kernel without
pidfd_getfd, no TCP sockets, an FD that is not a TCP socket.

Permission: the same as ptrace attach. The same user and a ptrace-able
(dumpable) target, or CAP_SYS_PTRACE (root). Yama's
/proc/sys/kernel/yama/ptrace_scope may narrow it: 1 lets only a process's
ancestors (or CAP_SYS_PTRACE) in, 2 only CAP_SYS_PTRACE, 3 nobody.

Examples:
  keepalive set 1234 -D 60            dead within a minute of silence, idle or busy
  keepalive set 1234 -D 900 --max-idle 350   and kept through an AWS NLB
  keepalive set 1234 --fd 5 -d 30 -i 10 -c 3";

pub(crate) const DEFAULTS_HELP: &str = "\
These are net.ipv4.tcp_keepalive_time, tcp_keepalive_intvl and
tcp_keepalive_probes (/proc/sys/net/ipv4/...), which every socket that turns
keepalive on without values of its own gets. Since Linux 4.13 each network
namespace (each container) has its own. They change nothing for sockets that
never turn SO_KEEPALIVE on, nor for those that set their own values.

--json prints one object: idle, interval (seconds), count, dead_after_ms,
netns.";

pub(crate) const DEFAULTS_SET_HELP: &str = "\
The article's `echo 7000 > /proc/sys/net/ipv4/tcp_keepalive_time`, checked:
the same ranges as everywhere, all or nothing, for this network namespace
only, printing before -> after. Needs root (CAP_NET_ADMIN in the namespace).
There is no system-wide default for TCP_USER_TIMEOUT.

--persist also writes /etc/sysctl.d/60-keepalive.conf (all three current
values, after a comment header saying this tool wrote it), atomically, so that
`sysctl --system` applies them at boot. It replaces only a file it wrote
itself: a file of that name without its header is left alone (exit 1, nothing
changed). It is refused from a network namespace other than PID 1's (the one
the boot applies it to). A file applied after it at boot that sets one of the
values is warned about.

Example:
  keepalive defaults set -d 600 -i 20 -c 4 --persist";
