//! `keepalive`, the operator's tool: see every TCP connection's keepalive,
//! retune a running process without restarting it, and set this network
//! namespace's defaults.
//!
//! ```text
//! keepalive show [PID...] [--max-idle SECONDS] [--json]
//! keepalive set PID [--fd FD] (-D SECONDS [--probes N] [--max-idle SECONDS] | [-d IDLE] [-i INTVL] [-c CNT] [-u MS])
//! keepalive defaults [--json]
//! keepalive defaults set [-d IDLE] [-i INTVL] [-c CNT] [--persist]
//! keepalive cgroup attach CGROUP (-D SECONDS [--probes N] [--max-idle SECONDS] | [-d IDLE] [-i INTVL] [-c CNT] [-u MS]) [--enforce]
//! keepalive cgroup detach CGROUP
//! keepalive cgroup list [--json]
//! keepalive cgroup prune
//! keepalive watch [--json] [--metrics ADDR:PORT]
//! keepalive measure HOST:PORT [--max SECONDS] [--json]
//! ```
//!
//! The tool only translates: every value is checked, every rule applied and
//! every option read by the core crate `keepalive`. Exit status: 0 done, 1
//! the system refused (the reason is printed), 2 usage.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand};
use keepalive::Field;

/// `println!` that does not panic when standard output is closed (`| head`):
/// what was done is done, and the rest of the output has no reader.
/// Every line goes through `fmt::printable`: a process's name or a path
/// with an escape sequence in it never reaches the terminal raw.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($arg)*);
        let _ = writeln!(std::io::stdout(), "{}", $crate::fmt::printable(&line));
    }};
}

/// `eprintln!` with `say!`'s escaping: for warnings and refusals.
macro_rules! warn {
    ($($arg:tt)*) => {{
        let line = format!($($arg)*);
        eprintln!("{}", $crate::fmt::printable(&line));
    }};
}

mod cgroup;
mod defaults;
mod fail;
mod fmt;
mod man;
mod measure;
mod metrics;
mod procfs;
mod set;
mod show;
mod target;
mod watch;

use fail::Failure;

const AFTER_HELP: &str = "\
Exit status: 0 done, 1 the system refused (the reason is printed: permission,
kernel too old, no such process, not a TCP socket), 2 usage (nothing changed).

Each subcommand has a manual page (man keepalive-show, keepalive-set, ...).
docs/operator.md (installed in share/doc/libkeepalive/docs/) has a
session, the permission model, and how this compares with gdb and ss.";

/// See and retune TCP keepalive: every connection's settings and liveness,
/// running processes retuned without a restart, the system-wide defaults.
#[derive(Debug, Parser)]
#[command(name = "keepalive", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Show(ShowArgs),
    Set(SetArgs),
    Defaults(DefaultsArgs),
    Run(RunArgs),
    Cgroup(CgroupArgs),
    Watch(WatchArgs),
    Measure(MeasureArgs),
    GenerateMan(GenerateManArgs),
}

/// Writes the manual pages (keepalive.1, keepalive-SUBCOMMAND.1 and
/// keepalive-run.1) into DIR, from these very definitions; `make build`
/// stages them into share/man/man1.
#[derive(Debug, Args)]
#[command(hide = true)]
struct GenerateManArgs {
    /// The directory to write the pages into (created if missing).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

const MEASURE_HELP: &str = "\
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

/// Find the longest silence the path to HOST:PORT survives, with keepalive
/// probes on parallel test connections
#[derive(Debug, Args)]
#[command(after_help = MEASURE_HELP,
    override_usage = "keepalive measure HOST:PORT [--max SECONDS] [--json]")]
struct MeasureArgs {
    /// The server: IPv4:PORT, [IPv6]:PORT or NAME:PORT.
    #[arg(value_name = "HOST:PORT")]
    target: String,
    /// The longest silence to try, 5..32767 seconds; the
    /// measurement ends within about 1.2 times that.
    #[arg(long, value_name = "SECONDS", default_value_t = measure::DEFAULT_MAX,
          value_parser = measure::max_secs, allow_negative_numbers = true)]
    max: u64,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

const CGROUP_HELP: &str = "\
A BPF sock_ops program attached to a cgroup v2 gives every TCP connection a
process of that cgroup (or of a cgroup below it) makes or accepts the policy,
whatever the program is built with: static C, Go, setuid. The attachment is
pinned in the BPF filesystem and outlasts the command. Needs root.

See docs/cgroup.md (installed in share/doc/libkeepalive/docs/) and
keepalive-cgroup-attach(1).";

/// Keepalive for every TCP connection of a cgroup v2, static and Go
/// programs included (BPF)
#[derive(Debug, Args)]
#[command(after_help = CGROUP_HELP)]
struct CgroupArgs {
    #[command(subcommand)]
    action: CgroupAction,
}

#[derive(Debug, Subcommand)]
enum CgroupAction {
    Attach(CgroupAttachArgs),
    Detach(CgroupDetachArgs),
    List(CgroupListArgs),
    Prune(CgroupPruneArgs),
}

const CGROUP_ATTACH_HELP: &str = "\
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

/// Give every TCP connection of CGROUP a keepalive policy, from now on and
/// those it has already.
#[derive(Debug, Args)]
#[command(after_help = CGROUP_ATTACH_HELP, override_usage = "keepalive cgroup attach CGROUP \
    (-D SECONDS [--probes N] [--max-idle SECONDS] | [-d IDLE] [-i INTVL] [-c CNT] [-u MS]) [--enforce]")]
struct CgroupAttachArgs {
    /// The cgroup v2 directory.
    #[arg(value_name = "CGROUP")]
    cgroup: PathBuf,
    #[command(flatten)]
    values: SetValues,
    /// Also rewrite the programs' own keepalive setsockopt calls to the
    /// policy (default: a program that sets its own keepalive keeps it).
    #[arg(long)]
    enforce: bool,
}

/// Remove the policy attached to CGROUP: connections keep the values they
/// were given, new ones get none.
#[derive(Debug, Args)]
#[command(override_usage = "keepalive cgroup detach CGROUP")]
struct CgroupDetachArgs {
    /// The cgroup v2 directory.
    #[arg(value_name = "CGROUP")]
    cgroup: PathBuf,
}

const CGROUP_LIST_HELP: &str = "\
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

/// Every policy attached, read back from the BPF filesystem, with what the
/// programs counted.
#[derive(Debug, Args)]
#[command(after_help = CGROUP_LIST_HELP, override_usage = "keepalive cgroup list [--json]")]
struct CgroupListArgs {
    /// One JSON array of objects instead of a table.
    #[arg(long)]
    json: bool,
}

/// Remove the pins of every policy that is not attached any more (its
/// cgroup was removed, or an attach or detach was killed midway); a policy
/// in force is never touched.
#[derive(Debug, Args)]
#[command(override_usage = "keepalive cgroup prune")]
struct CgroupPruneArgs {}

/// Run PROGRAM with keepalive on every TCP socket it creates (LD_PRELOAD):
/// the same program as keepalive-run.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
struct RunArgs {
    /// keepalive-run's options, `--`, PROGRAM and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<std::ffi::OsString>,
}

const WATCH_HELP: &str = "\
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

/// One line per TCP connection the kernel gives up on, host-wide, as it
/// happens, with its cause.
#[derive(Debug, Args)]
#[command(after_help = WATCH_HELP, override_usage = "keepalive watch [--json] [--metrics ADDR:PORT]")]
struct WatchArgs {
    /// One JSON object a line instead of a table.
    #[arg(long)]
    json: bool,
    /// Also serve the deaths counted by cause, for Prometheus, on
    /// http://ADDR:PORT/metrics (e.g. 127.0.0.1:9610).
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<std::net::SocketAddr>,
}

const SHOW_HELP: &str = "\
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

/// Every TCP socket of these processes (none: of all you may inspect), with
/// its keepalive settings and liveness.
#[derive(Debug, Args)]
#[command(after_help = SHOW_HELP, override_usage = "keepalive show [PID...] [--max-idle SECONDS] [--json]")]
struct ShowArgs {
    /// Processes to list (default: every process you may inspect).
    #[arg(value_name = "PID", value_parser = pid)]
    pids: Vec<u32>,
    /// Only the connections a NAT, firewall or load balancer that forgets
    /// flows silent this many seconds would forget: keepalive off, or idle
    /// + interval (with the timers' slack) that long or longer.
    #[arg(long, value_name = "SECONDS", value_parser = max_idle_secs, allow_negative_numbers = true)]
    max_idle: Option<i64>,
    /// One JSON array of objects instead of a table.
    #[arg(long)]
    json: bool,
}

const SET_HELP: &str = "\
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

/// Retune a running process's TCP sockets (or one FD), printing before ->
/// after for each.
#[derive(Debug, Args)]
#[command(after_help = SET_HELP, override_usage = "keepalive set PID [--fd FD] \
    (-D SECONDS [--probes N] [--max-idle SECONDS] | [-d IDLE] [-i INTVL] [-c CNT] [-u MS])")]
// --probes is in the group so that `set PID --probes 4` reaches
// `set::config`, which says what `cgroup attach` says: it goes with -D.
#[command(group(ArgGroup::new("values").required(true).multiple(true)
    .args(["deadline", "probes", "max_idle", "idle", "interval", "count", "user_timeout"])))]
struct SetArgs {
    /// The process to retune.
    #[arg(value_name = "PID", value_parser = pid)]
    pid: u32,
    /// Only this descriptor of the process.
    #[arg(long, value_name = "FD", value_parser = descriptor, allow_negative_numbers = true)]
    fd: Option<i32>,
    #[command(flatten)]
    values: SetValues,
}

/// The policy's values, shared by `set` and `cgroup attach`: one
/// vocabulary, and `set::config` turns them into one configuration.
#[derive(Debug, Args)]
struct SetValues {
    /// Dead-peer deadline: dead about SECONDS after the peer was last heard
    /// from, idle or busy (2..131068 with 3 probes).
    #[arg(short = 'D', long, value_name = "SECONDS", allow_negative_numbers = true,
          value_parser = deadline_secs,
          conflicts_with_all = ["idle", "interval", "count", "user_timeout"])]
    deadline: Option<i64>,
    /// With -D: unanswered probes that declare the peer dead (default 3).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    probes: Option<i64>,
    /// With -D: the silence a NAT, firewall or load balancer on the path
    /// tolerates (5..4294967295; `keepalive measure` finds it): a healthy
    /// connection is never silent that long, even with one probe lost.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true,
          value_parser = max_idle_secs)]
    max_idle: Option<i64>,
    #[command(flatten)]
    knobs: Knobs,
    /// TCP_USER_TIMEOUT: milliseconds sent data may stay unacknowledged,
    /// 0..2147483647 (0: the kernel's default).
    #[arg(short = 'u', long, value_name = "MS", allow_negative_numbers = true,
          value_parser = user_timeout_ms)]
    user_timeout: Option<i64>,
}

impl SetValues {
    /// The values as given, for `set::config`.
    fn values(&self) -> set::Values {
        set::Values {
            deadline: self.deadline,
            probes: self.probes,
            max_idle: self.max_idle,
            idle: self.knobs.idle,
            interval: self.knobs.interval,
            count: self.knobs.count,
            user_timeout_ms: self.user_timeout,
        }
    }
}

/// The three keepalive values, shared by `set`, `cgroup attach` and
/// `defaults set`.
#[derive(Debug, Args)]
struct Knobs {
    /// TCP_KEEPIDLE: seconds idle before the first probe, 1..32767.
    #[arg(short = 'd', long, value_name = "IDLE", allow_negative_numbers = true,
          value_parser = idle_secs)]
    idle: Option<i64>,
    /// TCP_KEEPINTVL: seconds between unanswered probes, 1..32767.
    #[arg(short = 'i', long, value_name = "INTVL", allow_negative_numbers = true,
          value_parser = interval_secs)]
    interval: Option<i64>,
    /// TCP_KEEPCNT: unanswered probes before the peer is dead, 1..127.
    #[arg(short = 'c', long, value_name = "CNT", allow_negative_numbers = true,
          value_parser = count_probes)]
    count: Option<i64>,
}

const DEFAULTS_HELP: &str = "\
These are net.ipv4.tcp_keepalive_time, tcp_keepalive_intvl and
tcp_keepalive_probes (/proc/sys/net/ipv4/...), which every socket that turns
keepalive on without values of its own gets. Since Linux 4.13 each network
namespace (each container) has its own. They change nothing for sockets that
never turn SO_KEEPALIVE on, nor for those that set their own values.

--json prints one object: idle, interval (seconds), count, dead_after_ms,
netns.";

/// This network namespace's keepalive defaults (tcp_keepalive_time, _intvl,
/// _probes), and what they mean.
#[derive(Debug, Args)]
#[command(after_help = DEFAULTS_HELP, args_conflicts_with_subcommands = true,
    override_usage = "keepalive defaults [--json]\n       \
                      keepalive defaults set [-d IDLE] [-i INTVL] [-c CNT] [--persist]")]
struct DefaultsArgs {
    #[command(subcommand)]
    action: Option<DefaultsAction>,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum DefaultsAction {
    Set(DefaultsSetArgs),
}

const DEFAULTS_SET_HELP: &str = "\
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

/// Change this network namespace's keepalive defaults (root).
#[derive(Debug, Args)]
#[command(after_help = DEFAULTS_SET_HELP,
    override_usage = "keepalive defaults set [-d IDLE] [-i INTVL] [-c CNT] [--persist]")]
#[command(group(ArgGroup::new("values").required(true).multiple(true)
    .args(["idle", "interval", "count"])))]
struct DefaultsSetArgs {
    #[command(flatten)]
    knobs: Knobs,
    /// Also write /etc/sysctl.d/60-keepalive.conf, so the values survive a
    /// reboot.
    #[arg(long)]
    persist: bool,
}

/// The values, parsed and checked by the core: one syntax, range and message
/// with keepalive-run, the preload library and the C examples.
fn idle_secs(text: &str) -> Result<i64, String> {
    Field::Idle.parse(text).map_err(|e| e.to_string())
}

fn interval_secs(text: &str) -> Result<i64, String> {
    Field::Interval.parse(text).map_err(|e| e.to_string())
}

fn count_probes(text: &str) -> Result<i64, String> {
    Field::Count.parse(text).map_err(|e| e.to_string())
}

fn user_timeout_ms(text: &str) -> Result<i64, String> {
    Field::UserTimeout.parse(text).map_err(|e| e.to_string())
}

fn deadline_secs(text: &str) -> Result<i64, String> {
    Field::Deadline.parse(text).map_err(|e| e.to_string())
}

fn max_idle_secs(text: &str) -> Result<i64, String> {
    Field::MaxIdle.parse(text).map_err(|e| e.to_string())
}

/// A process id: a whole number, 1 or more.
fn pid(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("a process id is a whole number, 1 or more".into()),
    }
}

/// A descriptor number: a whole number, 0 or more.
fn descriptor(text: &str) -> Result<i32, String> {
    text.parse::<i32>()
        .ok()
        .filter(|&n| n >= 0)
        .ok_or_else(|| "a descriptor is a whole number, 0 or more".into())
}

/// Prints a usage error as clap prints its own, with the subcommand's
/// usage line; exit status 2.
fn usage_error(path: &[&str], message: &str) -> ExitCode {
    let mut cmd = Cli::command().bin_name("keepalive");
    // Names every subcommand's usage line `keepalive ...`.
    cmd.build();
    let mut sub = &mut cmd;
    for name in path {
        sub = sub
            .find_subcommand_mut(name)
            .expect("a subcommand of this tool");
    }
    let err = sub.error(clap::error::ErrorKind::ValueValidation, message);
    let _ = err.print();
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version exit 0; usage errors 2.
        Err(e) => e.exit(),
    };
    let (path, result): (&[&str], Result<(), Failure>) = match cli.command {
        Command::Run(a) => return keepalive_run::main("keepalive run", a.args),
        Command::GenerateMan(a) => (&["generate-man"], man::generate(Cli::command(), &a.dir)),
        Command::Cgroup(CgroupArgs {
            action: CgroupAction::Attach(a),
        }) => (
            &["cgroup", "attach"],
            set::config(&a.values.values()).and_then(|c| {
                let d = set::deadline(&a.values.values())?;
                cgroup::attach(&a.cgroup, &c, d.as_ref(), a.enforce)
            }),
        ),
        Command::Cgroup(CgroupArgs {
            action: CgroupAction::Detach(a),
        }) => (&["cgroup", "detach"], cgroup::detach(&a.cgroup)),
        Command::Cgroup(CgroupArgs {
            action: CgroupAction::List(a),
        }) => (&["cgroup", "list"], cgroup::list(a.json)),
        Command::Cgroup(CgroupArgs {
            action: CgroupAction::Prune(_),
        }) => (&["cgroup", "prune"], cgroup::prune()),
        Command::Show(a) => (
            &["show"],
            show::run(&a.pids, a.json, a.max_idle.map(|t| t as u64)),
        ),
        Command::Measure(a) => (&["measure"], measure::run(&a.target, a.max, a.json)),
        Command::Watch(a) => (&["watch"], watch::run(a.json, a.metrics)),
        Command::Set(a) => (
            &["set"],
            set::config(&a.values.values()).and_then(|c| set::run(a.pid, a.fd, &c)),
        ),
        Command::Defaults(DefaultsArgs {
            action: None, json, ..
        }) => (&["defaults"], defaults::show(json)),
        Command::Defaults(DefaultsArgs {
            action: Some(DefaultsAction::Set(a)),
            ..
        }) => (
            &["defaults", "set"],
            defaults::set(a.knobs.idle, a.knobs.interval, a.knobs.count, a.persist),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => usage_error(path, &message),
        Err(Failure::Refused(message)) => {
            let name = format!("keepalive {}", path.join(" "));
            for line in message.lines() {
                warn!("{name}: {line}");
            }
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("keepalive").chain(args.iter().copied()))
    }

    #[test]
    fn one_flag_vocabulary() {
        let Command::Set(a) = parse(&["set", "42", "-d", "30", "-i", "7", "-c", "4", "-u", "5000"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(a.pid, 42);
        assert_eq!(
            (
                a.values.knobs.idle,
                a.values.knobs.interval,
                a.values.knobs.count
            ),
            (Some(30), Some(7), Some(4))
        );
        assert_eq!(a.values.user_timeout, Some(5000));
        let Command::Set(a) = parse(&[
            "set",
            "42",
            "--fd",
            "5",
            "--deadline",
            "60",
            "--probes",
            "4",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        assert_eq!(
            (a.fd, a.values.deadline, a.values.probes),
            (Some(5), Some(60), Some(4))
        );
        // Negative values reach the core's check, which refuses them with
        // its range, like any other front door.
        let err = parse(&["set", "42", "--idle", "-5"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("idle must be 1..32767 seconds, got -5"),
            "{err}"
        );
        let err = parse(&["set", "42", "-u", "99999999999999999999"]).unwrap_err();
        assert!(
            err.to_string().contains(
                "user_timeout must be 0..2147483647 milliseconds, got 99999999999999999999"
            ),
            "{err}"
        );
        assert_eq!(err.exit_code(), 2);
        let Command::Defaults(d) = parse(&["defaults", "set", "-d", "600", "--persist"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert!(matches!(
            d.action,
            Some(DefaultsAction::Set(DefaultsSetArgs { persist: true, .. }))
        ));
    }

    /// `cgroup attach` has `set`'s flags, and `set::config`'s rule.
    fn attach(args: &[&str]) -> Result<(CgroupAttachArgs, keepalive::Config), String> {
        let all: Vec<&str> = ["cgroup", "attach"].iter().chain(args).copied().collect();
        match parse(&all).map_err(|e| e.to_string())?.command {
            Command::Cgroup(CgroupArgs {
                action: CgroupAction::Attach(a),
            }) => {
                let config = match set::config(&a.values.values()) {
                    Ok(c) => c,
                    Err(f) => return Err(format!("{f:?}")),
                };
                Ok((a, config))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cgroup_attach_speaks_set_s_vocabulary() {
        use keepalive::{Config, Deadline};
        use std::time::Duration;
        let (a, c) = attach(&["/cg", "-D", "5"]).unwrap();
        assert_eq!(a.cgroup, PathBuf::from("/cg"));
        assert!(!a.enforce);
        assert_eq!(c, Deadline::new(Duration::from_secs(5)).config().unwrap());
        let (a, c) = attach(&["--deadline=60", "--probes", "5", "/cg", "--enforce"]).unwrap();
        assert!(a.enforce);
        assert_eq!(c.count, Some(5));
        let (_, c) = attach(&["/cg", "-D", "900", "--max-idle", "350"]).unwrap();
        assert_eq!(
            c,
            Deadline::new(Duration::from_secs(900))
                .max_idle(Duration::from_secs(350))
                .config()
                .unwrap()
        );
        let (_, c) = attach(&["/cg", "-d", "600", "-u", "30000"]).unwrap();
        assert_eq!(c.idle, Some(Duration::from_secs(600)));
        assert_eq!(c.interval, None);
        assert_eq!(c.user_timeout, Some(Duration::from_millis(30000)));
        // No value: keepalive on with the system's defaults.
        assert_eq!(attach(&["/cg"]).unwrap().1, Config::new());
        for (args, message) in [
            (
                &["/cg", "-d", "0"][..],
                "idle must be 1..32767 seconds, got 0",
            ),
            (
                &["/cg", "-i", "40000"],
                "interval must be 1..32767 seconds, got 40000",
            ),
            (
                &["/cg", "-c", "128"],
                "count must be 1..127 probes, got 128",
            ),
            (
                &["/cg", "-u", "-1"],
                "user_timeout must be 0..2147483647 milliseconds, got -1",
            ),
            (
                &["/cg", "-d", "99999999999999999999"],
                "idle must be 1..32767 seconds, got 99999999999999999999",
            ),
            (
                &["/cg", "-D", "1"],
                "deadline must be 2..131068 seconds, got 1",
            ),
            (
                &["/cg", "-D", "4", "--probes", "4"],
                "probes must be 1..3 probes for this deadline, got 4",
            ),
            (
                &["/cg", "-d", "3", "--probes", "2"],
                "--probes goes with -D/--deadline",
            ),
            (&["/cg", "-D", "5", "-c", "3"], "cannot be used with"),
            (
                &["/cg", "-d", "60", "--max-idle", "350"],
                "--max-idle goes with -D/--deadline",
            ),
            (
                &["/cg", "-D", "60", "--max-idle", "4"],
                "max_idle must be 5..4294967295 seconds, got 4",
            ),
            (
                &["/cg", "-D", "60", "--probes", "3", "--max-idle", "10"],
                "max_idle must be at least 27 seconds with deadline 60 seconds and 3 probes, got 10",
            ),
        ] {
            let err = attach(args).err().unwrap_or_default();
            assert!(err.contains(message), "{args:?}: {err}");
        }
        let Command::Cgroup(CgroupArgs {
            action: CgroupAction::List(l),
        }) = parse(&["cgroup", "list", "--json"]).unwrap().command
        else {
            panic!()
        };
        assert!(l.json);
    }

    /// `set` words a lone --probes as `cgroup attach` does, and a 2 s
    /// deadline's one probe in the singular (the core's sentences).
    #[test]
    fn set_and_attach_say_the_same_about_probes() {
        for args in [
            &["set", "42", "--probes", "4"][..],
            &["cgroup", "attach", "/cg", "--probes", "4"],
        ] {
            let values = match parse(args).unwrap().command {
                Command::Set(a) => a.values.values(),
                Command::Cgroup(CgroupArgs {
                    action: CgroupAction::Attach(a),
                }) => a.values.values(),
                other => panic!("{other:?}"),
            };
            assert_eq!(
                set::config(&values).unwrap_err(),
                Failure::Usage("--probes goes with -D/--deadline".into()),
                "{args:?}"
            );
        }
        let Command::Set(a) = parse(&["set", "42", "-D", "2", "--probes", "5"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(
            set::config(&a.values.values()).unwrap_err(),
            Failure::Usage("probes must be 1 probe for this deadline, got 5".into())
        );
    }

    #[test]
    fn usage_errors_exit_2() {
        use clap::error::ErrorKind;
        for args in [
            &["set", "42"][..],                   // no value
            &["set", "42", "-D", "5", "-d", "2"], // a deadline and a knob
            &["set", "0", "-D", "5"],             // no pid 0
            &["set", "x", "-D", "5"],
            &["set", "42", "-d", "abc"],
            &["set", "42", "--fd", "-1", "-D", "5"],
            &["defaults", "set"],               // no value
            &["defaults", "set", "-u", "5000"], // no system-wide user timeout
            &["show", "abc"],
            &["show", "--max-idle", "0"],
            &["measure"],                          // no target
            &["measure", "host:80", "--max", "4"], // --max out of range
            &["set", "42", "-D", "60", "--max-idle", "x"],
            &["frobnicate"],
            &["cgroup"],                                        // no verb
            &["cgroup", "frobnicate"],                          // no such verb
            &["cgroup", "attach", "-D", "5"],                   // no CGROUP
            &["cgroup", "attach", "/a", "/b"],                  // two
            &["cgroup", "attach", "/cg", "-D", "5", "-d", "3"], // a deadline and a knob
            &["cgroup", "attach", "/cg", "-D", "1"],            // out of range
            &["cgroup", "attach", "/cg", "-d", "ten"],
            &["cgroup", "attach", "/cg", "--force"],
            &["cgroup", "detach"],
            &["cgroup", "detach", "/a", "/b"],
            &["cgroup", "list", "--all"],
        ] {
            let err = parse(args).expect_err(&format!("{args:?} parsed"));
            assert_ne!(err.kind(), ErrorKind::DisplayHelp, "{args:?}");
            assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
        }
        for help in [
            &["set", "--help"][..],
            &["cgroup", "--help"],
            &["cgroup", "attach", "--help"],
            &["cgroup", "detach", "--help"],
            &["cgroup", "list", "--help"],
        ] {
            assert_eq!(parse(help).unwrap_err().exit_code(), 0, "{help:?}");
        }
        assert_eq!(
            parse(&["defaults", "set", "--help"])
                .unwrap_err()
                .exit_code(),
            0
        );
    }
}
