//! `keepalive set PID [--fd FD] (-D SECONDS [--probes N] [--max-idle T] | [-d] [-i] [-c] [-u])`:
//! retunes a running process's TCP sockets through the core's `set`, on
//! duplicates of its descriptors, printing before -> after for each.

use std::collections::HashMap;

use keepalive::{Config, Deadline, Settings};

use crate::fail::{self, Failure};
use crate::fmt;
use crate::procfs::{self, Pid, TcpTables};
use crate::target::{self, FdProblem, Proto, Socket};

/// The values from the command line, as given (the core checks them).
#[derive(Debug, Default, Clone, Copy)]
pub struct Values {
    pub deadline: Option<i64>,
    pub probes: Option<i64>,
    pub max_idle: Option<i64>,
    pub idle: Option<i64>,
    pub interval: Option<i64>,
    pub count: Option<i64>,
    pub user_timeout_ms: Option<i64>,
}

/// The configuration the values stand for, checked by the core: a bad value
/// is a usage error before anything is touched. `-D` stands for idle,
/// interval, count and user timeout together (clap refuses it beside
/// `-d/-i/-c/-u`), `--probes` goes with it. No value at all is an empty
/// configuration: `set` refuses it, `cgroup attach` turns keepalive on with
/// the system's defaults.
pub fn config(v: &Values) -> Result<Config, Failure> {
    if let Some(d) = deadline(v)? {
        return d.config().map_err(fail::invalid);
    }
    if v.probes.is_some() {
        return Err(Failure::Usage("--probes goes with -D/--deadline".into()));
    }
    if v.max_idle.is_some() {
        return Err(Failure::Usage("--max-idle goes with -D/--deadline".into()));
    }
    let mut c = Config::from_secs(v.idle, v.interval, v.count).map_err(fail::invalid)?;
    if let Some(ms) = v.user_timeout_ms {
        c.user_timeout = Some(keepalive::user_timeout_from_millis(ms).map_err(fail::invalid)?);
    }
    Ok(c)
}

/// The deadline `-D` (with `--probes`) asks for, checked by the core; `None`
/// without `-D`.
pub fn deadline(v: &Values) -> Result<Option<Deadline>, Failure> {
    v.deadline
        .map(|secs| {
            Deadline::from_secs(secs, v.probes)
                .and_then(|d| match v.max_idle {
                    Some(t) => d.max_idle_from_secs(t),
                    None => Ok(d),
                })
                .map_err(fail::invalid)
        })
        .transpose()
}

/// `on 2/1/3 5000 ms`: keepalive, idle/interval/count, user timeout.
pub fn describe(s: &Settings) -> String {
    format!(
        "{} {}/{}/{} {} ms",
        if s.enabled { "on" } else { "off" },
        s.idle.as_secs(),
        s.interval.as_secs(),
        s.count,
        fmt::ms(s.user_timeout)
    )
}

/// `dead after 5 s idle, 5 s busy`, by the kernel's rule.
pub fn dead_after(s: &Settings) -> String {
    let busy = match s.dead_after_busy() {
        Some(d) => format!("{} busy", fmt::spoken(d)),
        None => "busy by tcp_retries2".into(),
    };
    format!("dead after {} idle, {busy}", fmt::spoken(s.dead_after()))
}

/// `pid 1234 fd 5 192.0.2.1:40000 -> 192.0.2.2:5050 ESTABLISHED` (a
/// listener has no `-> remote`).
fn socket_name(sock: &Socket) -> String {
    let local = sock.local().map(fmt::addr).unwrap_or_else(|| "-".into());
    let state = keepalive::status(&sock.handle)
        .map(|st| st.state.name())
        .unwrap_or("?");
    match sock.remote() {
        Some(remote) => format!(
            "pid {} fd {} {local} -> {} {state}",
            sock.pid,
            sock.fd,
            fmt::addr(remote)
        ),
        None => format!("pid {} fd {} {local} {state}", sock.pid, sock.fd),
    }
}

/// Applies `config` to one socket, all or nothing (the core's `set`).
/// `Ok(line)`: `NAME: keepalive BEFORE -> AFTER (dead after ...)`.
fn retune(sock: &Socket, config: &Config) -> Result<String, String> {
    let name = socket_name(sock);
    let before = keepalive::get(&sock.handle).map_err(|e| format!("{name}: {e}"))?;
    if let Err(e) = keepalive::set(&sock.handle, config) {
        let hint = if sock.protocol == Proto::Mptcp && config.user_timeout.is_some() {
            " (an MPTCP socket has no TCP_USER_TIMEOUT, so no deadline: use -d/-i/-c)"
        } else {
            ""
        };
        let changed = fail::unless_left_changed(&e, "; nothing changed on this socket");
        return Err(format!("{name}: refused: {e}{hint}{changed}"));
    }
    let after = keepalive::get(&sock.handle).map_err(|e| format!("{name}: set, but {e}"))?;
    Ok(format!(
        "{name}: keepalive {} -> {} ({})",
        describe(&before),
        describe(&after),
        dead_after(&after)
    ))
}

/// What retuning did so far: each socket once (the same socket under two
/// numbers, after a dup, is retuned once), counted.
#[derive(Default)]
struct Tally {
    seen: HashMap<u64, i32>,
    done: usize,
    refused: usize,
    skipped: usize,
}

impl Tally {
    fn retune(&mut self, sock: &Socket, config: &Config) {
        if let Some(first) = self.seen.get(&sock.inode) {
            say!(
                "pid {} fd {}: the same socket as fd {first}, done once",
                sock.pid,
                sock.fd
            );
            return;
        }
        self.seen.insert(sock.inode, sock.fd);
        match retune(sock, config) {
            Ok(line) => {
                self.done += 1;
                say!("{line}");
            }
            Err(line) => {
                self.refused += 1;
                warn!("keepalive set: {line}");
            }
        }
    }
}

/// The one FD, which must be a TCP socket.
fn take_one(pid: Pid, fd: i32) -> Result<Socket, Failure> {
    match target::take_fd(pid, fd) {
        Ok(sock) => Ok(sock),
        Err(FdProblem::Denied(why)) => Err(Failure::Refused(fail::denied(pid, &why))),
        Err(FdProblem::NoSuchFd) => Err(Failure::Refused(format!(
            "pid {pid} ({}) has no file descriptor {fd}",
            procfs::comm(pid)
        ))),
        Err(FdProblem::NotTcp(what)) => Err(Failure::Refused(format!(
            "pid {pid} fd {fd} is {what}, not a TCP socket: keepalive applies to TCP sockets \
             (IPv4, IPv6, MPTCP) only; `keepalive show {pid}` lists them"
        ))),
    }
}

/// Runs `keepalive set`. `config` was checked already; an empty one is a
/// usage error (clap asks for a value already: this is the last guard).
///
/// Every TCP socket of the process is taken and retuned in batches (a
/// process may hold more sockets than this one may open descriptors); the
/// first batch is taken before any socket is changed, so that a refusal
/// (permission, an old kernel) changes nothing.
pub fn run(pid: Pid, fd: Option<i32>, config: &Config) -> Result<(), Failure> {
    if *config == Config::new() {
        return Err(Failure::Usage(
            "nothing to set: give -D SECONDS, or at least one of -d, -i, -c, -u".into(),
        ));
    }
    if !procfs::exists(pid) {
        return Err(Failure::Refused(format!("no such process: {pid}")));
    }
    if let Some(tgid) = procfs::tgid(pid).filter(|&t| t != pid) {
        return Err(Failure::Refused(fail::denied(
            pid,
            &target::Denied::Thread(tgid),
        )));
    }
    let mut tally = Tally::default();
    if let Some(fd) = fd {
        tally.retune(&take_one(pid, fd)?, config);
    } else {
        let taken = target::take_tcp(
            pid,
            &mut TcpTables::default(),
            target::batch_size(),
            |batch| {
                for (fd, why) in &batch.skipped {
                    say!("pid {pid} fd {fd}: skipped: {why}");
                }
                tally.skipped += batch.skipped.len();
                for sock in &batch.sockets {
                    tally.retune(sock, config);
                }
            },
        );
        if let Err(why) = taken {
            let so_far = if tally.seen.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} sockets retuned, {} refused before that)",
                    tally.done, tally.refused
                )
            };
            return Err(Failure::Refused(format!(
                "{}{so_far}",
                fail::denied(pid, &why)
            )));
        }
        if tally.seen.is_empty() {
            return Err(Failure::Refused(if tally.skipped == 0 {
                format!("pid {pid} ({}) has no TCP sockets", procfs::comm(pid))
            } else {
                format!("pid {pid}: nothing retuned: every TCP socket listed changed before it was taken; try again")
            }));
        }
    }
    if tally.refused > 0 {
        return Err(Failure::Refused(format!(
            "{} of {} sockets refused, {} retuned",
            tally.refused,
            tally.refused + tally.done,
            tally.done
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn v() -> Values {
        Values::default()
    }

    #[test]
    fn values_are_checked_by_the_core() {
        let c = config(&Values {
            deadline: Some(5),
            ..v()
        })
        .unwrap();
        assert_eq!(c, Deadline::new(Duration::from_secs(5)).config().unwrap());
        let c = config(&Values {
            deadline: Some(60),
            probes: Some(5),
            ..v()
        })
        .unwrap();
        assert_eq!(c.count, Some(5));
        let c = config(&Values {
            idle: Some(30),
            user_timeout_ms: Some(45000),
            ..v()
        })
        .unwrap();
        assert_eq!(c.idle, Some(Duration::from_secs(30)));
        assert_eq!(c.user_timeout, Some(Duration::from_millis(45000)));
        assert_eq!(c.interval, None);

        let usage = |values: Values| match config(&values) {
            Err(Failure::Usage(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            usage(Values {
                deadline: Some(1),
                ..v()
            }),
            "deadline must be 2..131068 seconds, got 1"
        );
        assert_eq!(
            usage(Values {
                idle: Some(0),
                ..v()
            }),
            "idle must be 1..32767 seconds, got 0"
        );
        assert_eq!(
            usage(Values {
                count: Some(128),
                ..v()
            }),
            "count must be 1..127 probes, got 128"
        );
        assert_eq!(
            usage(Values {
                user_timeout_ms: Some(-1),
                ..v()
            }),
            "user_timeout must be 0..2147483647 milliseconds, got -1"
        );
        assert_eq!(config(&v()), Ok(Config::new()));
        assert!(matches!(
            run(std::process::id(), None, &Config::new()),
            Err(Failure::Usage(m)) if m.starts_with("nothing to set")
        ));
        assert!(usage(Values {
            probes: Some(3),
            idle: Some(3),
            ..v()
        })
        .contains("--probes"));
    }

    #[test]
    fn before_and_after_in_words() {
        let sock = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let before = keepalive::get(&sock).unwrap();
        assert!(describe(&before).starts_with("off "));
        assert!(describe(&before).ends_with(" 0 ms"));
        keepalive::set_deadline(&sock, Duration::from_secs(5)).unwrap();
        let after = keepalive::get(&sock).unwrap();
        assert_eq!(describe(&after), "on 2/1/3 5000 ms");
        assert_eq!(dead_after(&after), "dead after 5 s idle, 5 s busy");
        keepalive::set_user_timeout(&sock, Duration::ZERO).unwrap();
        let plain = keepalive::get(&sock).unwrap();
        assert_eq!(
            dead_after(&plain),
            "dead after 5 s idle, busy by tcp_retries2"
        );
    }
}
