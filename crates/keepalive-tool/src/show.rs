//! `keepalive show [PID...] [--json]`: every TCP socket of those processes
//! (none given: of every process the caller may inspect), with its
//! keepalive settings, what the kernel will do with them, and its liveness.

use std::io::Write;

use serde::Serialize;

use crate::fail::{self, Failure};
use crate::fmt::{self, Align, Column};
use crate::procfs::{self, Pid, TcpTables};
use crate::target::{self, Denied, Socket};

/// One socket, as `--json` prints it. The contract's fields are `pid, fd,
/// local, remote, state, enabled, idle, interval, count, user_timeout_ms,
/// probes_out, last_ack_ms, dead_in_ms`; the others are ours. Seconds for
/// idle and interval (as they are set), milliseconds elsewhere (`_ms`).
#[derive(Debug, Serialize)]
pub struct Row {
    pub pid: Pid,
    pub command: String,
    pub fd: i32,
    /// `tcp` or `mptcp`.
    pub protocol: &'static str,
    /// `ADDRESS:PORT`, `[ADDRESS]:PORT` for IPv6.
    pub local: Option<String>,
    /// `null` for a listener (or any socket without a peer).
    pub remote: Option<String>,
    pub state: &'static str,
    pub enabled: bool,
    pub idle: u64,
    pub interval: u64,
    pub count: u32,
    pub user_timeout_ms: u64,
    /// Dead this long after the peer was last heard from, idle, by the
    /// kernel's rule (a user timeout replaces the count), once keepalive is
    /// on (with it off, nothing ends an idle connection).
    pub dead_after_ms: u64,
    /// Dead this long after the last ACK with data in flight: the user
    /// timeout; `null` without one (`tcp_retries2` decides).
    pub dead_after_busy_ms: Option<u64>,
    pub probes_until_dead: u32,
    /// `idle`, `probing`, `busy`, `zero-window`, `unwatched`,
    /// `not-connected`.
    pub phase: &'static str,
    pub probes_out: u32,
    pub last_ack_ms: u64,
    pub last_data_ms: u64,
    pub unacked: u32,
    /// `null` where no bound is in force.
    pub dead_in_ms: Option<u64>,
    /// The longest this connection can be silent on the wire when healthy
    /// and one probe is lost (idle + interval, with the timers' slack);
    /// `null` with keepalive off: as long as its application is.
    pub longest_silence_ms: Option<u64>,
    pub inode: u64,
    /// The settings read, for what the core says of them.
    #[serde(skip)]
    pub settings: keepalive::Settings,
}

/// Reads what one taken socket says. `Err` with a sentence when the core
/// cannot read it.
pub fn row(command: &str, sock: &Socket) -> Result<Row, String> {
    let st = keepalive::status(&sock.handle).map_err(|e| e.to_string())?;
    let s = st.settings;
    Ok(Row {
        pid: sock.pid,
        command: command.to_string(),
        fd: sock.fd,
        protocol: sock.protocol.name(),
        local: sock.local().map(fmt::addr),
        remote: sock.remote().map(fmt::addr),
        state: st.state.name(),
        enabled: s.enabled,
        idle: s.idle.as_secs(),
        interval: s.interval.as_secs(),
        count: s.count,
        user_timeout_ms: fmt::ms(s.user_timeout),
        dead_after_ms: fmt::ms(s.dead_after()),
        dead_after_busy_ms: s.dead_after_busy().map(fmt::ms),
        probes_until_dead: s.probes_until_dead(),
        phase: st.phase.name(),
        probes_out: st.probes_out,
        last_ack_ms: fmt::ms(st.last_ack),
        last_data_ms: fmt::ms(st.last_data),
        unacked: st.unacked,
        dead_in_ms: st.dead_in.map(fmt::ms),
        longest_silence_ms: s.longest_silence().map(fmt::ms),
        inode: sock.inode,
        settings: s,
    })
}

fn col(header: &'static str, align: Align, drop_rank: Option<u8>) -> Column {
    Column {
        header,
        align,
        drop_rank,
        shrink_to: None,
    }
}

/// The columns for people, and the order they are dropped in to fit a
/// narrow terminal (lowest rank first): the liveness details first, the
/// settings that DEAD-IDLE sums up later; PID, FD, REMOTE, STATE,
/// KEEPALIVE and DEAD-IN always stay.
pub fn columns() -> Vec<Column> {
    use Align::{Left, Right};
    let mut command = col("COMMAND", Left, Some(9));
    command.shrink_to = Some(8);
    vec![
        col("PID", Right, None),
        command,
        col("FD", Right, None),
        col("LOCAL", Left, Some(4)),
        col("REMOTE", Left, None),
        col("STATE", Left, None),
        col("KEEPALIVE", Left, None),
        col("IDLE", Right, Some(8)),
        col("INTVL", Right, Some(7)),
        col("CNT", Right, Some(6)),
        col("USER-TIMEOUT", Right, Some(5)),
        col("DEAD-IDLE", Right, Some(10)),
        col("DEAD-BUSY", Right, Some(3)),
        col("PROBES", Right, Some(1)),
        col("LAST-ACK", Right, Some(2)),
        col("DEAD-IN", Right, None),
    ]
}

/// A row's cells, in [`columns`] order.
pub fn cells(r: &Row) -> Vec<String> {
    let ms = |n: u64| fmt::compact(std::time::Duration::from_millis(n));
    let connected = r.phase != "not-connected";
    vec![
        r.pid.to_string(),
        fmt::printable(&r.command).into_owned(),
        r.fd.to_string(),
        r.local.clone().unwrap_or_else(|| "-".into()),
        r.remote.clone().unwrap_or_else(|| "*:*".into()),
        r.state.to_string(),
        if r.enabled { "on" } else { "off" }.to_string(),
        format!("{}s", r.idle),
        format!("{}s", r.interval),
        r.count.to_string(),
        if r.user_timeout_ms == 0 {
            "-".to_string()
        } else {
            format!("{}ms", r.user_timeout_ms)
        },
        // Keepalive off: nothing ends an idle connection.
        if r.enabled {
            ms(r.dead_after_ms)
        } else {
            "-".into()
        },
        r.dead_after_busy_ms.map(ms).unwrap_or_else(|| "-".into()),
        if connected {
            r.probes_out.to_string()
        } else {
            "-".into()
        },
        if connected {
            ms(r.last_ack_ms)
        } else {
            "-".into()
        },
        r.dead_in_ms.map(ms).unwrap_or_else(|| "-".into()),
    ]
}

/// Whether a middlebox that forgets a flow silent for `max_idle` would
/// forget this one: a connection (not a listener) whose keepalive lets it
/// be silent that long, or that has none (the core's rule).
pub fn forgotten_by(r: &Row, max_idle: std::time::Duration) -> bool {
    r.remote.is_some() && !r.settings.kept_through(max_idle)
}

/// Runs `keepalive show`; with `max_idle` (seconds), only the connections a
/// middlebox forgetting flows silent that long would forget.
pub fn run(pids: &[Pid], json: bool, max_idle: Option<u64>) -> Result<(), Failure> {
    let explicit = !pids.is_empty();
    let me = std::process::id();
    let mut targets: Vec<Pid> = if explicit {
        pids.to_vec()
    } else {
        procfs::pids()
            .map_err(|e| Failure::Refused(format!("cannot list /proc: {e}")))?
            .into_iter()
            .filter(|&p| p != me)
            .collect()
    };
    targets.sort_unstable();
    targets.dedup();

    if explicit {
        for &pid in &targets {
            // A PID that names no process is an error before any output,
            // as `set` has it: no empty table above the message.
            target::whole_process(pid).map_err(|why| Failure::Refused(fail::denied(pid, &why)))?;
        }
    }
    let mut tables = TcpTables::default();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut not_permitted = Vec::new();
    let batch = target::batch_size();
    for pid in targets {
        let mut command = None;
        let taken = target::take_tcp(pid, &mut tables, batch, |taken| {
            let command = command.get_or_insert_with(|| procfs::comm(pid));
            for sock in &taken.sockets {
                match row(command, sock) {
                    Ok(r) => rows.push(r),
                    Err(e) => warn!("keepalive show: pid {pid} fd {}: {e}", sock.fd),
                }
            }
        });
        match taken {
            Ok(()) => {}
            Err(Denied::NoPidfd { call }) => return Err(Failure::Refused(fail::no_pidfd(call))),
            Err(why) if explicit => errors.push(fail::denied(pid, &why)),
            Err(why @ Denied::Permission { .. }) => not_permitted.push(fail::denied(pid, &why)),
            // Gone meanwhile, or a thread: nothing (more) to show.
            Err(Denied::Gone | Denied::Thread(_)) => {}
            Err(why) => errors.push(fail::denied(pid, &why)),
        }
    }
    rows.sort_by_key(|r| (r.pid, r.fd));
    if let Some(t) = max_idle {
        let connections = rows.iter().filter(|r| r.remote.is_some()).count();
        rows.retain(|r| forgotten_by(r, std::time::Duration::from_secs(t)));
        warn!(
            "{} of {connections} connections could stay silent {t} s or more (keepalive off, or \
             idle + interval too long): a middlebox that forgets flows after {t} s would forget \
             them; `keepalive set PID -D SECONDS --max-idle {t}` keeps them",
            rows.len()
        );
    }

    // PIDs given, none of them listed: the error alone, as `set` has it,
    // not an empty table above it.
    if explicit && rows.is_empty() && !errors.is_empty() {
        return Err(Failure::Refused(errors.join("\n")));
    }
    // Buffered: standard output is line-buffered, and pretty JSON has some
    // twenty lines a socket, each a write(2) of its own otherwise.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = if json {
        serde_json::to_writer_pretty(&mut out, &rows)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        let cells: Vec<Vec<String>> = rows.iter().map(cells).collect();
        fmt::table(&columns(), &cells, fmt::terminal_width())
            .iter()
            .try_for_each(|l| writeln!(out, "{l}"))
    };
    // A closed pipe (`| head`) is not an error worth a message.
    if let Err(e) = written.and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(Failure::Refused(format!("writing the output: {e}")));
        }
    }
    report_not_permitted(&not_permitted);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::Refused(errors.join("\n")))
    }
}

/// The processes the listing skipped for want of permission: one line that
/// counts them and says what is needed, or, for root (for whom "run as
/// root" is no answer), each process named with its own reason.
fn report_not_permitted(messages: &[String]) {
    const NAMED: usize = 5;
    if messages.is_empty() {
        return;
    }
    if fail::is_root() {
        for m in messages.iter().take(NAMED) {
            warn!("keepalive show: skipped {m}");
        }
        if messages.len() > NAMED {
            warn!(
                "keepalive show: skipped {} more processes, for the same kind of reason \
                 (name them as PIDs to see each)",
                messages.len() - NAMED
            );
        }
        return;
    }
    let n = messages.len();
    let (n, s) = if n == 1 {
        ("1 process".to_string(), "its owner")
    } else {
        (format!("{n} processes"), "their owner")
    };
    let yama = match procfs::ptrace_scope() {
        Some(scope @ 1..) => {
            format!(" (Yama's ptrace_scope is {scope}: see keepalive set --help)")
        }
        _ => String::new(),
    };
    warn!("{n} could not be inspected (permission denied): run as root or as {s}{yama}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample() -> Row {
        Row {
            pid: 1234,
            command: "python3".into(),
            fd: 3,
            protocol: "tcp",
            local: Some("192.0.2.1:40000".into()),
            remote: Some("192.0.2.2:5050".into()),
            state: "ESTABLISHED",
            enabled: true,
            idle: 2,
            interval: 1,
            count: 3,
            user_timeout_ms: 5000,
            dead_after_ms: 5000,
            dead_after_busy_ms: Some(5000),
            probes_until_dead: 3,
            phase: "idle",
            probes_out: 0,
            last_ack_ms: 1200,
            last_data_ms: 1200,
            unacked: 0,
            dead_in_ms: Some(3800),
            longest_silence_ms: Some(5000),
            inode: 77,
            settings: keepalive::Settings::new(
                true,
                Duration::from_secs(2),
                Duration::from_secs(1),
                3,
                Duration::from_millis(5000),
            ),
        }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_middlebox_forgets_connections_silent_that_long() {
        // 2 s idle and 1 s interval, each late by up to a second: 5 s.
        let r = sample();
        assert!(!forgotten_by(&r, secs(6)));
        assert!(forgotten_by(&r, secs(5)));
        let off = Row {
            settings: keepalive::Settings::new(false, secs(2), secs(1), 3, secs(5)),
            ..sample()
        };
        assert!(forgotten_by(&off, secs(3600)));
        // A listener has no flow to forget.
        let listener = Row {
            remote: None,
            ..off
        };
        assert!(!forgotten_by(&listener, secs(1)));
    }

    #[test]
    fn json_has_the_contracts_fields() {
        let v = serde_json::to_value(sample()).unwrap();
        for field in [
            "pid",
            "fd",
            "local",
            "remote",
            "state",
            "enabled",
            "idle",
            "interval",
            "count",
            "user_timeout_ms",
            "probes_out",
            "last_ack_ms",
            "dead_in_ms",
        ] {
            assert!(v.get(field).is_some(), "{field} missing from {v}");
        }
        assert_eq!(v["enabled"], serde_json::json!(true));
        assert_eq!(v["local"], serde_json::json!("192.0.2.1:40000"));
        assert_eq!(v["dead_in_ms"], serde_json::json!(3800));
        let mut listener = sample();
        listener.remote = None;
        listener.dead_in_ms = None;
        let v = serde_json::to_value(listener).unwrap();
        assert!(v["remote"].is_null() && v["dead_in_ms"].is_null());
    }

    #[test]
    fn cells_in_natural_units() {
        let c = cells(&sample());
        assert_eq!(c.len(), columns().len());
        assert_eq!(
            c,
            vec![
                "1234",
                "python3",
                "3",
                "192.0.2.1:40000",
                "192.0.2.2:5050",
                "ESTABLISHED",
                "on",
                "2s",
                "1s",
                "3",
                "5000ms",
                "5s",
                "5s",
                "0",
                "1.2s",
                "3.8s"
            ]
        );
        let mut listener = sample();
        listener.remote = None;
        listener.phase = "not-connected";
        listener.state = "LISTEN";
        listener.dead_in_ms = None;
        listener.user_timeout_ms = 0;
        listener.dead_after_busy_ms = None;
        let c = cells(&listener);
        assert_eq!(c[4], "*:*");
        assert_eq!((&*c[10], &*c[12], &*c[13], &*c[15]), ("-", "-", "-", "-"));
        listener.enabled = false;
        assert_eq!(cells(&listener)[11], "-", "keepalive off: no idle bound");
    }

    #[test]
    fn an_80_column_terminal_keeps_the_essentials() {
        let rows = vec![cells(&sample())];
        let lines = fmt::table(&columns(), &rows, Some(80));
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{lines:#?}");
        for header in ["PID", "FD", "REMOTE", "STATE", "KEEPALIVE", "DEAD-IN"] {
            assert!(lines[0].contains(header), "{header} dropped: {}", lines[0]);
        }
        assert!(!lines[0].contains("PROBES"));
    }
}
