//! `keepalive set PID [--fd FD] (-D SECONDS [--probes N] [--max-idle T] | [-d] [-i] [-c] [-u])`:
//! retunes a running process's TCP sockets through the core's `set`, on
//! duplicates of its descriptors, printing before -> after for each.

use std::collections::HashMap;

use keepalive::{Config, Request, Settings};

use crate::fail::{self, Failure};
use crate::fmt;
use crate::procfs::{self, Pid, TcpTables};
use crate::target::{self, FdProblem, Proto, Socket};

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

/// Runs `keepalive set`. The request is checked by the core before any
/// process is touched (a usage error); an empty one is a usage error too
/// (clap asks for a value already: this is the last guard).
///
/// Every TCP socket of the process is taken and retuned in batches (a
/// process may hold more sockets than this one may open descriptors); the
/// first batch is taken before any socket is changed, so that a refusal
/// (permission, an old kernel) changes nothing.
pub fn run(pid: Pid, fd: Option<i32>, request: &Request) -> Result<(), Failure> {
    let config = &request.config().map_err(fail::invalid)?;
    if *config == Config::new() {
        return Err(Failure::Usage(
            "nothing to set: give -D SECONDS, or at least one of -d, -i, -c, -u".into(),
        ));
    }
    target::whole_process(pid).map_err(|why| Failure::Refused(fail::denied(pid, &why)))?;
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

    /// What the core refuses is a usage error before any process is
    /// touched (this test's own pid would be retuned otherwise), in the
    /// core's words.
    #[test]
    fn requests_are_checked_before_anything_is_touched() {
        let me = std::process::id();
        let usage = |r: Request| match run(me, None, &r) {
            Err(Failure::Usage(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(usage(Request::new()).starts_with("nothing to set"));
        let r = Request {
            deadline: Some(5),
            idle: Some(3),
            ..Request::new()
        };
        assert_eq!(usage(r), r.config().unwrap_err().to_string());
        let r = Request {
            probes: Some(3),
            ..Request::new()
        };
        assert_eq!(usage(r), "probes goes with deadline: give deadline too");
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
