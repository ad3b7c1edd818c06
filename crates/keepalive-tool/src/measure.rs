//! `keepalive measure HOST:PORT [--max SECONDS] [--json]`: the longest
//! silence the path to a server survives, found with keepalive probes.
//!
//! On the wire: each test connection is a plain TCP handshake and then
//! nothing, with `TCP_KEEPIDLE` set to the silence it tests (before the
//! connect, so the timer runs from the handshake). The kernel sends one
//! keepalive probe after that silence; the peer's kernel answers it whatever
//! the server program is. What happened is read from `TCP_INFO` (through the
//! core's [`keepalive::status`]): an ACK after the probe (answered), the
//! probe still unanswered a while later (dropped: the path forgot the
//! flow), or the connection reset (a middlebox that answers a forgotten flow
//! with a reset). Times are the ones observed, not the ones asked for: a
//! keepalive timer fires up to an eighth of its length late, so the bracket
//! is [longest silence answered, shortest silence not answered] as they
//! happened.
//!
//! The search: a first round of silences growing by 30 % (5, 7, 10, 13,
//! 17, 23, ... up to `--max`), all at once, stopped as soon as one fails;
//! then rounds of up to eight connections spread inside the bracket, until
//! it is narrower than a tenth of its upper end (or 1.5 s). Each round lasts
//! about as long as the longest silence still useful, so the whole
//! measurement takes about 1.3 T + T for a timeout T (20 s: about 50 s).

use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use keepalive::{limits, Config, TcpState};
use serde::Serialize;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::fail::Failure;

/// The longest silence tried when `--max` is not given: past GCP's 10
/// minutes, the longest of the common cloud defaults.
pub const DEFAULT_MAX: u64 = 900;

/// Connections per round after the first.
const PER_ROUND: usize = 8;

/// How often the connections are read.
const POLL: Duration = Duration::from_millis(100);

/// `--max`'s help, with its range from the core's limits.
pub fn max_help() -> String {
    format!(
        "The longest silence to try, {}..{} seconds; the measurement ends within about 1.2 \
         times that",
        limits::MIN_MAX_IDLE_SECS,
        limits::MAX_IDLE_SECS
    )
}

/// `--max`: whole seconds, from the shortest max_idle to the longest
/// `TCP_KEEPIDLE` (the core's limits).
pub fn max_secs(text: &str) -> Result<u64, String> {
    let (min, max) = (limits::MIN_MAX_IDLE_SECS, limits::MAX_IDLE_SECS);
    match text.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n as u64),
        _ => Err(format!("--max must be {min}..{max} seconds, got {text:?}")),
    }
}

/// `HOST:PORT`, `[IPv6]:PORT`: the host and the port, or a usage error.
fn split_target(target: &str) -> Result<(&str, u16), Failure> {
    let usage = |why: &str| {
        Failure::Usage(format!(
            "{why}: give HOST:PORT, e.g. db.example.org:5432 or [::1]:5050, got {target:?}"
        ))
    };
    let (host, port) = target.rsplit_once(':').ok_or_else(|| usage("no port"))?;
    let host = match host.strip_prefix('[') {
        Some(rest) => rest.strip_suffix(']').ok_or_else(|| usage("unclosed ["))?,
        None if host.contains(':') => return Err(usage("an IPv6 address goes in brackets")),
        None => host,
    };
    if host.is_empty() {
        return Err(usage("no host"));
    }
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| usage("the port must be 1..65535"))?;
    Ok((host, port))
}

/// What one test connection found.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// The probe was answered: the path kept the flow through this silence (s).
    Answered(f64),
    /// The probe went out after this silence (s) and nothing came back.
    Dropped(f64),
    /// The connection was reset after this silence (s).
    Reset(f64),
    /// The server closed the connection itself after this long (s): its
    /// own idle timeout, not the path's.
    ClosedByServer(f64),
    /// The server kept sending data, so the silence never came.
    Talkative,
}

/// One test connection.
struct Conn {
    /// The silence asked for (`TCP_KEEPIDLE`), seconds.
    silence: u64,
    sock: Option<Socket>,
    /// When the handshake completed.
    opened: Instant,
    /// When the peer was last heard from before the probe: the handshake,
    /// or data the server sent (a banner), which restarts the silence.
    since: Instant,
    /// The round trip of the handshake.
    rtt: Duration,
    /// When a probe was first seen out and unanswered.
    probe_seen: Option<Instant>,
    outcome: Option<Outcome>,
}

impl Conn {
    /// Opens a connection that sends its first probe after `silence` s.
    fn open(addr: SocketAddr, silence: u64) -> std::io::Result<Conn> {
        let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        // Idle first, then one probe; the connection never dies of keepalive
        // while it is watched (the interval is as long as allowed).
        let config = Config::new()
            .idle(Duration::from_secs(silence))
            .interval(Duration::from_secs(limits::MAX_INTERVAL_SECS as u64))
            .count(limits::MAX_COUNT as u32);
        keepalive::set(&sock, &config).map_err(std::io::Error::from)?;
        let start = Instant::now();
        sock.connect_timeout(&SockAddr::from(addr), Duration::from_secs(10))?;
        let since = Instant::now();
        Ok(Conn {
            silence,
            sock: Some(sock),
            opened: since,
            since,
            rtt: since - start,
            probe_seen: None,
            outcome: None,
        })
    }

    /// How long to wait for a probe's answer before calling it dropped.
    fn answer_wait(&self) -> Duration {
        Duration::from_secs(1) + self.rtt * 4
    }

    /// The latest moment this connection can still tell something.
    fn ends_by(&self) -> Instant {
        // The probe's timer fires late by the core's rule; then the wait.
        let late = keepalive::timer_fires_by(Duration::from_secs(self.silence));
        self.since + late + self.answer_wait()
    }

    /// Reads the connection's state; sets `outcome` once it is known.
    fn poll(&mut self, now: Instant) {
        let Some(sock) = &self.sock else { return };
        if self.outcome.is_some() {
            return;
        }
        let secs = |t: Instant| t.saturating_duration_since(self.since).as_secs_f64();
        let st = match keepalive::status(sock) {
            Ok(st) => st,
            Err(_) => {
                self.outcome = Some(Outcome::Reset(secs(now)));
                return;
            }
        };
        match st.state {
            TcpState::Established => {}
            TcpState::CloseWait => {
                self.outcome = Some(Outcome::ClosedByServer(secs(now)));
                return;
            }
            _ => {
                // Reset (or timed out): the path answered the probe with a
                // reset, or the server did.
                self.outcome = Some(Outcome::Reset(secs(now)));
                return;
            }
        }
        let heard = now - st.last_ack.min(st.last_data);
        if heard > self.since + Duration::from_millis(300) {
            let due = self.since + Duration::from_secs(self.silence);
            if self.probe_seen.is_some() || heard + Duration::from_millis(500) >= due {
                // The answer came `heard`; the probe left a round trip before.
                let silence = heard.saturating_duration_since(self.since + self.rtt);
                self.outcome = Some(Outcome::Answered(silence.as_secs_f64()));
            } else {
                // The server spoke (a banner): the silence starts again,
                // unless it keeps talking.
                self.since = heard;
                if now - self.opened > Duration::from_secs(self.silence * 2 + 10) {
                    self.outcome = Some(Outcome::Talkative);
                }
            }
            return;
        }
        if st.probes_out > 0 {
            let seen = *self.probe_seen.get_or_insert(now);
            if now - seen >= self.answer_wait() {
                self.outcome = Some(Outcome::Dropped(secs(seen)));
            }
        }
    }

    /// Closes the connection: with a FIN while the path surely still knows
    /// the flow (its probe was just answered, or it has been silent less
    /// than `kept`, the longest silence seen answered), with a reset
    /// otherwise: a FIN into a forgotten flow would be retransmitted into
    /// the void for minutes, and the reset costs nothing if it is dropped.
    fn close(&mut self, kept: f64) {
        if let Some(sock) = self.sock.take() {
            let silent = self.since.elapsed().as_secs_f64();
            let known = matches!(self.outcome, Some(Outcome::Answered(_))) || silent < kept;
            if !known {
                let _ = sock.set_linger(Some(Duration::ZERO));
            }
            drop(sock);
        }
    }
}

/// The first round's silences: from 5 s, each 30 % longer than the last,
/// up to `max`.
fn ladder(max: u64) -> Vec<u64> {
    let mut out = vec![];
    let mut s = limits::MIN_MAX_IDLE_SECS as u64;
    while s < max {
        out.push(s);
        s = (s * 13).div_ceil(10).max(s + 1);
    }
    out.push(max);
    out
}

/// Up to [`PER_ROUND`] whole silences strictly inside (lower, upper),
/// spread evenly.
fn inside(lower: f64, upper: f64) -> Vec<u64> {
    let first = (lower.floor() as u64 + 1).max(1);
    let last = (upper.ceil() as u64).saturating_sub(1);
    if last < first {
        return vec![];
    }
    let all: Vec<u64> = (first..=last).collect();
    if all.len() <= PER_ROUND {
        return all;
    }
    let mut out: Vec<u64> = (0..PER_ROUND)
        .map(|k| all[(k * (all.len() - 1)) / (PER_ROUND - 1)])
        .collect();
    out.dedup();
    out
}

/// Whether the bracket is as narrow as the search makes it: a tenth of its
/// upper end (so both ends are within 10 % of the timeout), or 1.5 s (the
/// timers' own granularity at a few seconds).
fn narrow_enough(lower: f64, upper: f64) -> bool {
    upper - lower <= f64::max(1.5, upper / 10.0)
}

/// The result, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Report {
    target: String,
    address: String,
    idle_timeout_s: Option<[f64; 2]>,
    recommended_max_idle_s: Option<u64>,
    connections: usize,
    elapsed_s: f64,
    max_s: u64,
    server_closed_after_s: Option<f64>,
}

/// Progress lines on stderr.
struct Progress {
    start: Instant,
    last: Instant,
}

impl Progress {
    fn say(&mut self, text: &str) {
        self.last = Instant::now();
        let _ = writeln!(
            std::io::stderr(),
            "keepalive measure: [{:>4.0} s] {text}",
            self.start.elapsed().as_secs_f64()
        );
    }
}

fn bracket_text(lower: f64, upper: Option<f64>) -> String {
    match upper {
        Some(u) => format!("forgotten between {lower:.1} and {u:.1} s of silence"),
        None => format!("kept through {lower:.1} s of silence so far"),
    }
}

/// Runs `keepalive measure`.
pub fn run(target: &str, max: u64, json: bool) -> Result<(), Failure> {
    let (host, port) = split_target(target)?;
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| Failure::Refused(format!("cannot resolve {host}: {e}")))?
        .next()
        .ok_or_else(|| Failure::Refused(format!("cannot resolve {host}: no address")))?;
    let start = Instant::now();
    let mut progress = Progress { start, last: start };
    // One connection first: a server that cannot be reached is exit 1.
    let first = Conn::open(addr, max)
        .map_err(|e| Failure::Refused(format!("cannot connect to {addr}: {e}")))?;
    let mut lower = 0.0f64;
    let mut upper: Option<f64> = None;
    let mut server_closed: Option<f64> = None;
    let mut total = 0usize;
    let mut round = 0;
    let mut silences = ladder(max);
    silences.pop(); // `max` is the first connection's
    let mut pending = Some(first);
    loop {
        round += 1;
        let mut conns: Vec<Conn> = pending.take().into_iter().collect();
        for s in silences {
            match Conn::open(addr, s) {
                Ok(c) => conns.push(c),
                Err(e) => progress.say(&format!("a test connection failed to connect: {e}")),
            }
        }
        conns.sort_by_key(|c| c.silence);
        total += conns.len();
        progress.say(&format!(
            "round {round}: {} connections, silences {} s; {}",
            conns.len(),
            conns
                .iter()
                .map(|c| c.silence.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            bracket_text(lower, upper)
        ));
        loop {
            let now = Instant::now();
            for c in conns.iter_mut() {
                let before = c.outcome;
                c.poll(now);
                if before.is_some() || c.outcome.is_none() {
                    continue;
                }
                match c.outcome {
                    Some(Outcome::Answered(a)) => {
                        lower = lower.max(a);
                        progress.say(&format!(
                            "{} s: probe answered after {a:.1} s of silence",
                            c.silence
                        ));
                    }
                    Some(Outcome::Dropped(b)) => {
                        upper = Some(upper.map_or(b, |u| u.min(b)));
                        progress.say(&format!(
                            "{} s: probe after {b:.1} s of silence never answered: forgotten",
                            c.silence
                        ));
                    }
                    Some(Outcome::Reset(b)) => {
                        upper = Some(upper.map_or(b, |u| u.min(b)));
                        progress.say(&format!(
                            "{} s: reset after {b:.1} s of silence: forgotten",
                            c.silence
                        ));
                    }
                    Some(Outcome::Talkative) => {
                        progress.say(&format!(
                            "{} s: the server keeps sending data: no silence to test",
                            c.silence
                        ));
                    }
                    Some(Outcome::ClosedByServer(b)) => {
                        server_closed = Some(server_closed.map_or(b, |x: f64| x.min(b)));
                        progress.say(&format!(
                            "{} s: the server closed the connection after {b:.1} s",
                            c.silence
                        ));
                    }
                    None => {}
                }
                c.close(lower);
            }
            // Connections whose silence can no longer narrow the bracket.
            if let Some(u) = upper {
                for c in conns
                    .iter_mut()
                    .filter(|c| c.outcome.is_none() && c.silence as f64 >= u)
                {
                    c.close(lower);
                }
            }
            let open: Vec<&Conn> = conns.iter().filter(|c| c.sock.is_some()).collect();
            if open.is_empty() {
                break;
            }
            if progress.last.elapsed() >= Duration::from_secs(10) {
                let left = open.iter().map(|c| c.ends_by()).max().unwrap_or(now);
                progress.say(&format!(
                    "round {round}: {} connections waiting; {}; this round ends within {:.0} s",
                    open.len(),
                    bracket_text(lower, upper),
                    left.saturating_duration_since(now).as_secs_f64()
                ));
            }
            std::thread::sleep(POLL);
        }
        let Some(u) = upper else { break };
        if narrow_enough(lower, u) || round >= 4 {
            break;
        }
        silences = inside(lower, u);
        if silences.is_empty() {
            break;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let round1 = |x: f64| (x * 10.0).round() / 10.0;
    let recommended = upper
        .map(|_| lower.floor() as u64)
        .filter(|&t| t >= limits::MIN_MAX_IDLE_SECS as u64);
    let report = Report {
        target: target.to_string(),
        address: addr.to_string(),
        idle_timeout_s: upper.map(|u| [round1(lower), round1(u)]),
        recommended_max_idle_s: recommended,
        connections: total,
        elapsed_s: round1(elapsed),
        max_s: max,
        server_closed_after_s: server_closed.map(round1),
    };
    let text = if json {
        serde_json::to_string_pretty(&report).expect("plain data")
    } else {
        human(&report, lower, upper)
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}") {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(Failure::Refused(format!("writing the output: {e}")));
        }
    }
    Ok(())
}

/// The result for a person.
fn human(r: &Report, lower: f64, upper: Option<f64>) -> String {
    let head = format!(
        "{} ({}): {} test connections, {:.0} s.",
        r.target, r.address, r.connections, r.elapsed_s
    );
    let mut text = match (upper, r.recommended_max_idle_s) {
        (None, _) => format!(
            "{head}\nThe path kept every connection, up to {} s of silence (--max): no idle \
             timeout below that.",
            r.max_s
        ),
        (Some(u), Some(t)) => format!(
            "{head}\nThe path forgets a connection silent between {lower:.1} and {u:.1} s.\n\
             Use max_idle {t}: keepalive set PID -D SECONDS --max-idle {t} \
             (keepalive-run --max-idle {t}, KEEPALIVE_MAX_IDLE={t}, set_deadline(..., max_idle={t}))."
        ),
        (Some(u), None) => format!(
            "{head}\nThe path forgets a connection silent {u:.1} s or less: too short for \
             keepalive to keep (max_idle is {} s at least).",
            limits::MIN_MAX_IDLE_SECS
        ),
    };
    if let Some(c) = r.server_closed_after_s {
        text.push_str(&format!(
            "\nThe server itself closed a connection after {c:.1} s: that is its own idle \
             timeout, which keepalive does not change."
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            split_target("db.example.org:5432").ok(),
            Some(("db.example.org", 5432))
        );
        assert_eq!(split_target("[::1]:5050").ok(), Some(("::1", 5050)));
        assert_eq!(split_target("192.0.2.1:80").ok(), Some(("192.0.2.1", 80)));
        for bad in [
            "db.example.org",
            "host:",
            "host:0",
            "host:65536",
            ":80",
            "::1:80",
            "[::1:80",
            "host:x",
        ] {
            assert!(matches!(split_target(bad), Err(Failure::Usage(_))), "{bad}");
        }
    }

    #[test]
    fn max_is_checked() {
        assert_eq!(max_secs("900"), Ok(900));
        assert_eq!(max_secs("5"), Ok(5));
        assert_eq!(
            max_secs("4"),
            Err("--max must be 5..32767 seconds, got \"4\"".into())
        );
        assert!(max_secs("32768").is_err());
        assert!(max_secs("ten").is_err());
    }

    #[test]
    fn the_first_round_grows_by_half_up_to_max() {
        assert_eq!(ladder(40), vec![5, 7, 10, 13, 17, 23, 30, 39, 40]);
        assert_eq!(ladder(5), vec![5]);
        assert_eq!(*ladder(900).last().unwrap(), 900);
    }

    #[test]
    fn later_rounds_spread_inside_the_bracket() {
        assert_eq!(inside(17.2, 26.4), vec![18, 19, 20, 21, 22, 23, 24, 26]);
        assert_eq!(inside(19.5, 20.3), vec![20]);
        assert_eq!(inside(19.5, 20.0), Vec::<u64>::new());
        assert_eq!(inside(10.0, 14.0), vec![11, 12, 13]);
        assert!(narrow_enough(19.1, 21.0));
        assert!(narrow_enough(4.0, 5.5));
        assert!(!narrow_enough(17.0, 26.0));
    }
}
