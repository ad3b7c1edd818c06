//! `keepalive watch [--json]`: one line per TCP connection the kernel gives
//! up on, host-wide, as it happens, until SIGINT or SIGTERM (exit 0).
//!
//! keepalive-bpf's [`Watch`] loads the program and decodes its events (the
//! cause is the core's rule); this module waits for them, finds the owner
//! of a connection the program did not see being made (by its socket's
//! inode, in `/proc/PID/fd`), and prints. Lost events (a full ring buffer)
//! are counted on stderr as they happen and at the end.

use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keepalive_bpf::watch::{Death, Owner, Watch, POLL_INTERVAL};
use serde::Serialize;

use crate::fail::{self, Failure};
use crate::fmt;
use crate::metrics::{Counters, Endpoint};
use crate::procfs;

/// One line of `--json`: the contract's fields first, then the extras.
#[derive(Debug, Serialize)]
struct Row {
    time: String,
    pid: Option<u32>,
    command: Option<String>,
    local: String,
    remote: String,
    cause: &'static str,
    silent_ms: u64,
    /// How pid was found: connect, listener, fd, or unknown.
    owner: &'static str,
    state: &'static str,
    error: String,
    user_timeout_ms: u64,
    probes_out: u32,
    retransmits: u32,
    /// How long a zero window had been probed; null for other causes.
    window_probed_ms: Option<u64>,
    orphan: bool,
    netns: u32,
    inode: u64,
}

/// The owner of a connection, as the line shows it.
struct Found {
    pid: Option<u32>,
    command: Option<Vec<u8>>,
    how: &'static str,
}

/// The process holding the socket with this inode now, by `/proc/PID/fd`.
fn holder(inode: u64) -> Option<(u32, Vec<u8>)> {
    let pids = procfs::pids().ok()?;
    pids.into_iter().find_map(|pid| {
        let fds = procfs::socket_fds(pid).ok()?;
        fds.iter()
            .any(|s| s.inode == inode)
            .then(|| (pid, procfs::comm_bytes(pid).unwrap_or_default()))
    })
}

/// Who owned the connection: the process the program recorded at
/// `connect()` or `listen()`; for one made before the watch started, the
/// process holding its socket now, when one still does (a scan of
/// `/proc/PID/fd`, done only then: a burst of deaths stays cheap).
fn owner(d: &Death) -> Found {
    if d.owner == Owner::Unknown && d.inode != 0 {
        if let Some((pid, comm)) = holder(d.inode) {
            return Found {
                pid: Some(pid),
                command: Some(comm),
                how: "fd",
            };
        }
    }
    Found {
        pid: d.pid,
        command: d.command.clone(),
        how: d.owner.name(),
    }
}

/// A command name for a line: control characters, a backslash and bytes
/// that are not UTF-8 written `\xNN` (a name is any bytes but NUL).
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\\' {
                let mut buf = [0; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Days since 1970-01-01 as a civil date (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339 in UTC, to the millisecond: `2026-12-01T23:10:05.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs() as i64;
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        since.subsec_millis()
    )
}

/// The time of day in the local time zone, for the table: `23:10:05.123`.
fn local_time(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs() as libc::time_t;
    // SAFETY: an all-zero tm is valid; localtime_r fills it from `secs`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: pointers to a live time_t and tm.
    if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
        return rfc3339(t);
    }
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        since.subsec_millis()
    )
}

fn row(d: &Death) -> Row {
    let who = owner(d);
    Row {
        time: rfc3339(d.time),
        pid: who.pid,
        command: who.command.as_deref().map(printable),
        local: fmt::addr(d.local),
        remote: fmt::addr(d.remote),
        cause: d.cause.name(),
        silent_ms: fmt::ms(d.silent),
        owner: who.how,
        state: d.state.name(),
        error: keepalive::os_error_text(&io::Error::from_raw_os_error(d.error)),
        user_timeout_ms: fmt::ms(d.user_timeout),
        probes_out: d.probes_out,
        retransmits: d.retransmits,
        window_probed_ms: d.window_probed.map(fmt::ms),
        orphan: d.orphan,
        netns: d.netns,
        inode: d.inode,
    }
}

const HEADER: [&str; 7] = [
    "TIME", "PID", "COMMAND", "LOCAL", "REMOTE", "CAUSE", "SILENT",
];

/// One table line: fixed widths (lines are printed as they come), wider
/// cells push the rest along.
fn table_line(cells: [&str; 7]) -> String {
    format!(
        "{:<12}  {:>7}  {:<15}  {:<21}  {:<21}  {:<15}  {:>6}",
        cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]
    )
    .trim_end()
    .to_string()
}

fn table_row(d: &Death, r: &Row) -> String {
    let pid = r.pid.map_or_else(|| "-".to_string(), |p| p.to_string());
    let command = r.command.clone().unwrap_or_else(|| "-".into());
    let mut line = table_line([
        &local_time(d.time),
        &pid,
        &command,
        &r.local,
        &r.remote,
        r.cause,
        &fmt::compact(d.silent),
    ]);
    if d.orphan {
        line.push_str("  (closed by its program)");
    }
    line
}

/// SIGINT and SIGTERM, blocked and read from a descriptor: one arriving
/// while the program loads is kept, and ends the watch at once. Their
/// disposition is reset first: a shell starts background commands with
/// SIGINT ignored, and an ignored signal never reaches a signalfd.
fn signals() -> io::Result<OwnedFd> {
    // SAFETY: sigset_t is plain data; sigemptyset initializes it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a live sigset_t, valid signal numbers; blocking them in this
    // (single-threaded) process and reading them from a signalfd.
    let fd = unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Waits up to `timeout` for the ring buffer, a signal or a metrics
/// request; returns whether a signal came.
fn wait(
    ring: &Watch,
    sig: &OwnedFd,
    endpoint: Option<&Endpoint>,
    timeout: Duration,
) -> io::Result<bool> {
    let poll_fd = |fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let mut fds = [
        poll_fd(ring.as_fd().as_raw_fd()),
        poll_fd(sig.as_raw_fd()),
        poll_fd(endpoint.map_or(-1, |e| e.listener().as_raw_fd())),
    ];
    // SAFETY: three live pollfd structures (a negative fd is ignored).
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 3, timeout.as_millis() as libc::c_int) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(fds[1].revents & libc::POLLIN != 0)
}

/// Prints what is waiting; `Err` when standard output is gone (a closed
/// pipe: the watch ends there).
fn drain(
    w: &mut Watch,
    json: bool,
    out: &mut impl Write,
    counters: &mut Counters,
    seen: &mut u64,
) -> io::Result<()> {
    while let Some(d) = w.next() {
        counters.count(d.cause);
        let r = row(&d);
        if json {
            serde_json::to_writer(&mut *out, &r).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        } else {
            writeln!(out, "{}", table_row(&d, &r))?;
        }
        out.flush()?;
        *seen += 1;
    }
    Ok(())
}

/// Reports lost events on stderr when their count grew.
fn report_lost(w: &Watch, lost: &mut u64) {
    if let Ok(n) = w.dropped() {
        if n > *lost {
            eprintln!(
                "keepalive watch: {} events lost ({n} in all): the ring buffer was full",
                n - *lost
            );
            *lost = n;
        }
    }
}

pub fn run(json: bool, metrics: Option<std::net::SocketAddr>) -> Result<(), Failure> {
    let sig = signals().map_err(|e| Failure::Refused(format!("signalfd: {e}")))?;
    let endpoint = metrics
        .map(|addr| {
            Endpoint::bind(addr).map_err(|e| {
                Failure::Refused(format!(
                    "--metrics: listening on {addr}: {}",
                    keepalive::os_error_text(&e)
                ))
            })
        })
        .transpose()?;
    let mut w = Watch::start().map_err(fail::cgroup)?;
    let serving = endpoint
        .as_ref()
        .and_then(|e| e.local_addr().ok())
        .map_or_else(String::new, |a| format!("; metrics on http://{a}/metrics"));
    eprintln!(
        "keepalive watch: watching every TCP connection of this host (kernel HZ {}){serving}; \
         SIGINT or SIGTERM stops",
        w.hz()
    );
    let mut counters = Counters::default();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if !json && writeln!(out, "{}", table_line(HEADER)).is_err() {
        return Ok(());
    }
    let _ = out.flush();
    let (mut seen, mut lost) = (0u64, 0u64);
    loop {
        let stop = wait(&w, &sig, endpoint.as_ref(), POLL_INTERVAL)
            .map_err(|e| Failure::Refused(format!("poll: {e}")))?;
        if drain(&mut w, json, &mut out, &mut counters, &mut seen).is_err() {
            break;
        }
        report_lost(&w, &mut lost);
        counters.set_lost(lost);
        if let Some(e) = &endpoint {
            e.serve(&counters);
        }
        if stop {
            break;
        }
    }
    eprintln!("keepalive watch: {seen} connections reported, {lost} events lost");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names_are_printable() {
        assert_eq!(printable(b"python3"), "python3");
        assert_eq!(printable(b"evil\x1b[2J"), "evil\\x1b[2J");
        assert_eq!(printable(b"a\\b\tc"), "a\\x5cb\\x09c");
        assert_eq!(printable(b"caf\xc3\xa9 \xff"), "caf\u{e9} \\xff");
        assert_eq!(printable("\u{85}x".as_bytes()), "\\xc2\\x85x");
    }

    #[test]
    fn times() {
        let t = UNIX_EPOCH + Duration::from_millis(1_796_166_605_123);
        assert_eq!(rfc3339(t), "2026-12-01T23:10:05.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(local_time(t).len(), "23:10:05.123".len());
    }

    #[test]
    fn the_table_header() {
        assert_eq!(
            table_line(HEADER),
            "TIME              PID  COMMAND          LOCAL                  REMOTE                 \
             CAUSE            SILENT"
        );
    }
}
