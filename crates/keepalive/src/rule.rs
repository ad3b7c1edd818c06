//! The Linux kernel's rules for declaring a peer dead, as pure functions of
//! the socket's settings and what `TCP_INFO` says. Everything that predicts
//! the kernel ([`Settings::dead_after`](crate::Settings::dead_after),
//! [`status`](crate::status)) goes through here, so that the rule is written
//! once.
//!
//! The idle rule is `tcp_keepalive_timer()` in `net/ipv4/tcp_timer.c`. The
//! timer first fires `idle` after the peer was last heard from (the later of
//! its last ACK and its last data), then every `interval`. At each firing:
//!
//! ```text
//! if (user_timeout != 0 && elapsed >= user_timeout && probes_out > 0) ||
//!    (user_timeout == 0 && probes_out >= count)      -> the connection is dead
//! else                                                -> send a probe, probes_out += 1
//! ```
//!
//! So a set `TCP_USER_TIMEOUT` replaces `TCP_KEEPCNT`: the connection dies at
//! the first firing at or after the user timeout that has a probe out.
//!
//! The busy rule is `tcp_retransmit_timer()`/`retransmits_timed_out()`: with
//! data unacknowledged, keepalive does not probe; the connection dies
//! `TCP_USER_TIMEOUT` after the *first retransmission* (`retrans_stamp`,
//! "the stamp of the first (attempted) retransmit" in
//! `tcp_retransmit_skb()`; the retransmission timer is clamped to fire then),
//! or, with no user timeout, once `tcp_retries2` retransmissions' worth of
//! time has passed since then, modelled by `tcp_model_timeout()`. The first
//! retransmission comes one retransmission timeout (RTO, at least 200 ms)
//! after the oldest unacknowledged segment was sent, so a busy connection
//! dies about D + RTO after the peer's last ACK, and a connection written to
//! after a silence about D + RTO after the write (not after the peer was
//! last heard: up to 2 D after it).
//!
//! The zero-window rule is `tcp_probe_timer()`: with data queued behind a
//! closed window the kernel sends window probes, the first one base RTO
//! after the window closed, each next one `base << backoff` after the
//! previous probe or its answer (`tcp_send_probe0()`, `tcp_ack_probe()`),
//! capped at 120 s. With a user timeout it aborts once that long has passed
//! since the *first* probe (`icsk_probes_tstamp`), answered or not; without
//! one, after `tcp_retries2` probes unanswered in a row.

use std::time::Duration;

/// The settings the rules need, in the kernel's units.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timers {
    pub(crate) idle: Duration,
    pub(crate) interval: Duration,
    pub(crate) count: u32,
    /// Zero: none set.
    pub(crate) user_timeout: Duration,
}

impl Timers {
    /// When the keepalive timer fires for the `k`-th time after the peer was
    /// last heard from (k = 0 at `idle`), on a regular schedule.
    fn firing(&self, k: u32) -> Duration {
        self.idle + self.interval * k
    }

    /// The number of the firing that declares an idle peer dead, counted from
    /// 0 at `idle`: it sends probes at firings 0..k and dies at firing k.
    fn fatal_firing(&self) -> u32 {
        if self.user_timeout.is_zero() {
            return self.count;
        }
        // The first firing k >= 1 (a probe is out) with idle + k*interval >= user timeout.
        let past_idle = self.user_timeout.saturating_sub(self.idle);
        let per = self.interval.as_nanos().max(1);
        let k = past_idle.as_nanos().div_ceil(per);
        u32::try_from(k).unwrap_or(u32::MAX).max(1)
    }

    /// How long after the peer was last heard from an idle connection is
    /// declared dead, by the kernel's rule.
    pub(crate) fn idle_death(&self) -> Duration {
        self.firing(self.fatal_firing())
    }

    /// How many probes an idle connection sends to a silent peer before it
    /// is declared dead.
    pub(crate) fn probes_before_death(&self) -> u32 {
        self.fatal_firing()
    }

    /// How long until the keepalive timer declares an idle connection dead,
    /// `elapsed` after the peer was last heard from with `probes_out` probes
    /// unanswered.
    ///
    /// On a regular schedule the next firing is `firing(probes_out)`. When the
    /// schedule was disturbed (keepalive turned on or retuned long after the
    /// peer last spoke) that moment may be past; the kernel then fires within
    /// one interval, and the estimate takes "now" (a lower bound).
    pub(crate) fn idle_dead_in(&self, elapsed: Duration, probes_out: u32) -> Duration {
        let next = self.firing(probes_out).saturating_sub(elapsed);
        if self.user_timeout.is_zero() {
            // Firings still needed: the probes not yet sent, then the fatal one.
            let left = self.count.saturating_sub(probes_out);
            return next + self.interval * left;
        }
        // The first future firing j (at next + j*interval, with probes_out + j
        // probes out) that is at or past the user timeout with a probe out.
        let at_next = elapsed + next;
        let mut j = u32::from(probes_out == 0);
        let short = self
            .user_timeout
            .saturating_sub(at_next + self.interval * j);
        if !short.is_zero() {
            let per = self.interval.as_nanos().max(1);
            j += u32::try_from(short.as_nanos().div_ceil(per)).unwrap_or(u32::MAX);
        }
        next + self.interval * j
    }
}

/// The longest a healthy idle connection with these timers can go without a
/// packet on the wire, when one probe (or its answer) is lost: the probe
/// due `idle` after the last packet, then its repetition one `interval`
/// later, each timer late by up to an eighth of its length.
///
/// The keepalive timer is an ordinary kernel timer, and the timer wheel
/// (`kernel/time/timer.c`) files a timer at the level whose granularity is
/// at most 1/8 of its length, rounding its expiry up to that granularity,
/// plus up to a jiffy. So a timer of `x` seconds fires at most `x + x/8`
/// (and a few milliseconds) after it was armed; rounded up to whole
/// seconds, `x + ceil(x/8)` covers both. Whole seconds in, whole seconds out
/// (the kernel's keepalive values are whole seconds).
pub(crate) fn longest_silence(idle_secs: u64, interval_secs: u64) -> u64 {
    late(idle_secs) + late(interval_secs)
}

/// Whether a middlebox that forgets a flow silent `max_idle_secs` keeps a
/// healthy connection with these timers: the longest silence is shorter.
pub(crate) fn kept_through(idle_secs: u64, interval_secs: u64, max_idle_secs: u64) -> bool {
    longest_silence(idle_secs, interval_secs) < max_idle_secs
}

/// A timer of `secs` seconds fires by this many seconds after it was armed.
pub(crate) fn late(secs: u64) -> u64 {
    secs + secs.div_ceil(8)
}

/// How long until the retransmission timer declares a busy connection dead,
/// `bound` (the user timeout, or [`retries_timeout`]) after the first
/// retransmission. What `TCP_INFO` tells: `rto` (the current, backed-off
/// timeout), `retransmits` (of the oldest segment), `last_ack` and
/// `last_send` (the ages of the peer's last ACK and of our last
/// transmission, retransmissions included).
///
/// Before any retransmission, the first comes `rto` after the oldest
/// unacknowledged segment was sent, taken to be the peer's last ACK (for a
/// connection that was sending when the peer went silent, the same moment
/// within a round trip). After `r` of them, each doubling the timeout, the
/// first was sent `rto × (1 − 2^(1−r))` before the last (exact until the
/// timeout reaches its 120 s ceiling, an estimate past it).
pub(crate) fn busy_dead_in(
    bound: Duration,
    rto: Duration,
    retransmits: u32,
    last_ack: Duration,
    last_send: Duration,
    tail_probe: Duration,
) -> Duration {
    if retransmits == 0 {
        // The timer runs from the last ACK that acknowledged new data, or,
        // when nothing was in flight, from the send that started this
        // flight. Had it run from the last ACK, it would have fired already
        // (one RTO after it): so when the last ACK is older than that, the
        // flight started after it (a write after a silence), at the last
        // send (the flight goes out at once: no ACK clocks it).
        if last_ack < rto || last_send > last_ack {
            return (bound + rto).saturating_sub(last_ack);
        }
        // A flight started by a send after the silence: a tail loss probe
        // still due (`tail_probe` after the send) re-arms the timer one RTO
        // after itself.
        let probe = if last_send < tail_probe {
            tail_probe
        } else {
            Duration::ZERO
        };
        return (bound + probe + rto).saturating_sub(last_send);
    }
    let halvings = (retransmits - 1).min(63);
    let first_to_last = rto.saturating_sub(Duration::from_nanos(
        (rto.as_nanos() >> halvings).min(u128::from(u64::MAX)) as u64,
    ));
    bound.saturating_sub(last_send + first_to_last)
}

/// When the tail loss probe follows a send that found nothing in flight
/// (`tcp_schedule_loss_probe()`): two smoothed round trips, plus the
/// minimum RTO (200 ms) when a single segment is out (a delayed ACK may be
/// all that is missing), never after the RTO.
pub(crate) fn tail_loss_probe(unacked: u32, srtt: Duration, rto: Duration) -> Duration {
    let extra = if unacked == 1 {
        Duration::from_millis(200)
    } else {
        Duration::ZERO
    };
    (srtt * 2 + extra).min(rto)
}

/// What `TCP_INFO` says of a connection probing a zero window, in the
/// units the zero-window rule needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ZeroWindow {
    /// The user timeout; `None`: not set.
    pub(crate) user_timeout: Option<Duration>,
    /// `tcp_retries2`, read only without a user timeout.
    pub(crate) retries2: u32,
    /// `tcpi_rto`: the base of the probe timer (at least 200 ms).
    pub(crate) rto: Duration,
    /// `tcpi_rtt`: how long after a probe its answer comes.
    pub(crate) rtt: Duration,
    /// `tcpi_backoff`: probes sent since the window closed.
    pub(crate) backoff: u32,
    /// `tcpi_probes`: probes unanswered since the peer's last ACK.
    pub(crate) probes_out: u32,
    /// `tcpi_last_ack_recv`: since the peer's last ACK.
    pub(crate) last_ack: Duration,
}

/// The kernel's bounds on a retransmission or probe timer (`TCP_RTO_MIN`,
/// `TCP_RTO_MAX`).
const TCP_RTO_MIN: Duration = Duration::from_millis(200);
const TCP_RTO_MAX: Duration = Duration::from_secs(120);
/// How often the timer doubles from `TCP_RTO_MIN` before the next doubling
/// would pass `TCP_RTO_MAX`: ilog2(600) = 9.
const RTO_DOUBLINGS: u32 = (TCP_RTO_MAX.as_millis() / TCP_RTO_MIN.as_millis()).ilog2();

impl ZeroWindow {
    /// The probe timer's interval after `k` probes: `tcp_probe0_when()`.
    fn interval(&self, k: u32) -> Duration {
        // One doubling past the last that stays under TCP_RTO_MAX.
        let shift = k.min(RTO_DOUBLINGS + 1);
        (self.rto.max(TCP_RTO_MIN) * (1u32 << shift)).min(TCP_RTO_MAX)
    }
}

/// How long until the kernel aborts a connection probing a zero window if
/// nothing more is heard (with a user timeout: whatever is heard).
///
/// The probes are reconstructed from the peer's last ACK: with `m` probes
/// answered (`backoff − probes_out`), the last ACK answered probe `m` (or,
/// with `m` = 0, closed the window), and the first probe was sent
/// `interval(1) + … + interval(m−1) + m × rtt` before it (with `m` = 0: is
/// due one base RTO after it).
pub(crate) fn zero_window_dead_in(z: &ZeroWindow) -> Duration {
    let answered = z.backoff.saturating_sub(z.probes_out);
    let intervals = |from: u32, to: u32| (from..to).map(|k| z.interval(k)).sum::<Duration>();
    match z.user_timeout {
        Some(bound) => {
            if answered == 0 {
                // The first probe: one base interval after the closing ACK.
                return (bound + z.interval(0)).saturating_sub(z.last_ack);
            }
            let since_first = z.last_ack + intervals(1, answered) + z.rtt * answered;
            bound.saturating_sub(since_first)
        }
        None => {
            // Probes answered-probe+1 ..= answered+retries2 unanswered, then the
            // firing that finds retries2 out. The backoff stops growing at
            // retries2.
            let cap = z.retries2;
            let total: Duration = (answered..=answered + cap)
                .map(|k| z.interval(k.min(cap)))
                .sum();
            total.saturating_sub(z.last_ack)
        }
    }
}

/// The kernel's model of how long `boundary` retransmissions take from the
/// first one (`tcp_model_timeout()`): the timeout doubles from `TCP_RTO_MIN`
/// (200 ms) up to `TCP_RTO_MAX` (120 s), then stays there. With the default
/// `tcp_retries2` of 15 that is 924.6 s.
pub(crate) fn retries_timeout(boundary: u32) -> Duration {
    const RTO_MIN_MS: u64 = TCP_RTO_MIN.as_millis() as u64;
    const RTO_MAX_MS: u64 = TCP_RTO_MAX.as_millis() as u64;
    let thresh = RTO_DOUBLINGS;
    let ms = if boundary <= thresh {
        ((2u64 << boundary) - 1) * RTO_MIN_MS
    } else {
        ((2u64 << thresh) - 1) * RTO_MIN_MS + u64::from(boundary - thresh) * RTO_MAX_MS
    };
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(idle: u64, interval: u64, count: u32, ut_ms: u64) -> Timers {
        Timers {
            idle: Duration::from_secs(idle),
            interval: Duration::from_secs(interval),
            count,
            user_timeout: Duration::from_millis(ut_ms),
        }
    }

    fn s(x: f64) -> Duration {
        Duration::from_secs_f64(x)
    }

    /// The three cases measured on the wire (issue 10): 2/1/3 with no user
    /// timeout dies at 5 s after 3 probes, with 3.5 s at 4 s after 2 probes,
    /// with 8 s at 8 s after 6 probes.
    #[test]
    fn the_measured_cases() {
        assert_eq!(t(2, 1, 3, 0).idle_death(), s(5.0));
        assert_eq!(t(2, 1, 3, 0).probes_before_death(), 3);
        assert_eq!(t(2, 1, 3, 3500).idle_death(), s(4.0));
        assert_eq!(t(2, 1, 3, 3500).probes_before_death(), 2);
        assert_eq!(t(2, 1, 3, 8000).idle_death(), s(8.0));
        assert_eq!(t(2, 1, 3, 8000).probes_before_death(), 6);
    }

    #[test]
    fn a_user_timeout_on_a_firing_dies_at_that_firing() {
        assert_eq!(t(2, 1, 3, 5000).idle_death(), s(5.0));
        assert_eq!(t(75, 25, 3, 150_000).idle_death(), s(150.0));
    }

    /// grpc-go #6250: a 20 s user timeout with 15 s probes dies at the second
    /// firing (30 s) after a single unanswered probe.
    #[test]
    fn a_user_timeout_shorter_than_the_probes_dies_after_one() {
        let grpc = t(15, 15, 9, 20_000);
        assert_eq!(grpc.probes_before_death(), 1);
        assert_eq!(grpc.idle_death(), s(30.0));
        // Shorter than idle: still one probe, then death at the next firing.
        assert_eq!(t(10, 3, 5, 1000).idle_death(), s(13.0));
    }

    #[test]
    fn dead_in_counts_down_on_a_regular_schedule() {
        for timers in [
            t(2, 1, 3, 0),
            t(2, 1, 3, 3500),
            t(2, 1, 3, 5000),
            t(2, 1, 3, 8000),
        ] {
            let death = timers.idle_death();
            // Sample every 100 ms; probes go out at idle, idle+1, ...
            let mut ms = 0u64;
            while Duration::from_millis(ms) < death {
                let elapsed = Duration::from_millis(ms);
                let probes = if elapsed < timers.idle {
                    0
                } else {
                    1 + ((elapsed - timers.idle).as_millis() / 1000) as u32
                };
                assert_eq!(
                    elapsed + timers.idle_dead_in(elapsed, probes),
                    death,
                    "{timers:?} at {ms} ms with {probes} probes"
                );
                ms += 100;
            }
        }
    }

    #[test]
    fn dead_in_after_a_late_retune_is_a_lower_bound() {
        // Silent for an hour, then given a 5 s deadline: the kernel probes at
        // once and dies one interval later at the earliest.
        let timers = t(2, 1, 3, 5000);
        assert_eq!(timers.idle_dead_in(s(3600.0), 0), s(1.0));
        assert_eq!(timers.idle_dead_in(s(3600.0), 1), s(0.0));
        assert_eq!(t(2, 1, 3, 0).idle_dead_in(s(3600.0), 0), s(3.0));
    }

    #[test]
    fn busy_counts_from_the_first_retransmission() {
        let ms = Duration::from_millis;
        // (bound, rto, retransmits, since the last ACK, since the last
        // retransmission, expected)
        let cases = [
            // Not retransmitted yet: the first comes one RTO after the last ACK.
            (5000, 400, 0, 300, 10, 5100),
            // One retransmission, 250 ms ago: it is the first.
            (5000, 800, 1, 900, 250, 4750),
            // Three, the RTO doubled to 3.2 s: the first was 0.8 + 1.6 = 2.4 s
            // before the last, which was 100 ms ago.
            (5000, 3200, 3, 3000, 100, 2500),
            // Past the bound: zero, never negative.
            (1000, 3200, 3, 3000, 100, 0),
            (1000, 120_000, 200, 0, 0, 0),
        ];
        for (bound, rto, n, acked, sent, want) in cases {
            assert_eq!(
                busy_dead_in(ms(bound), ms(rto), n, ms(acked), ms(sent), ms(0)),
                ms(want),
                "{bound} {rto} {n} {acked} {sent}"
            );
        }
    }

    #[test]
    fn a_write_after_a_silence_counts_from_the_write() {
        let ms = Duration::from_millis;
        // Silent 9 s, then written to 50 ms ago: the first retransmission
        // is due one RTO after the write, the death D after it.
        assert_eq!(
            busy_dead_in(ms(10_000), ms(200), 0, ms(9000), ms(50), ms(0)),
            ms(10_150)
        );
        // One segment: the tail loss probe 200 ms after the write comes
        // first, and the RTO one RTO after it.
        let tlp = tail_loss_probe(1, ms(1), ms(204));
        assert_eq!(tlp, ms(202));
        assert_eq!(
            busy_dead_in(ms(10_000), ms(204), 0, ms(9000), ms(50), tlp),
            ms(10_356)
        );
        // The probe went out 20 ms ago (the last send): one RTO after it.
        assert_eq!(
            busy_dead_in(ms(10_000), ms(204), 0, ms(9200), ms(220), tlp),
            ms(9_984)
        );
        assert_eq!(tail_loss_probe(10, ms(1), ms(204)), ms(2));
        // An ACK 100 ms ago, within one RTO: the timer may run from it.
        assert_eq!(
            busy_dead_in(ms(10_000), ms(200), 0, ms(100), ms(20), ms(0)),
            ms(10_100)
        );
    }

    fn zw(ut_ms: Option<u64>, backoff: u32, probes_out: u32, last_ack_ms: u64) -> ZeroWindow {
        ZeroWindow {
            user_timeout: ut_ms.map(Duration::from_millis),
            retries2: 15,
            rto: Duration::from_millis(200),
            rtt: Duration::ZERO,
            backoff,
            probes_out,
            last_ack: Duration::from_millis(last_ack_ms),
        }
    }

    /// A live reader that stopped reading, 3 s user timeout, probes at 0.2 s
    /// (T1), then 0.4, 0.8, 1.6 s after each answer: T1 + 0.4 + 0.8 + 1.6 =
    /// T1 + 2.8, abort at T1 + 3.
    #[test]
    fn zero_window_counts_the_user_timeout_from_the_first_probe() {
        let ms = Duration::from_millis;
        // The window closed 100 ms ago, no probe yet: abort at 0.2 + 3 s.
        assert_eq!(zero_window_dead_in(&zw(Some(3000), 0, 0, 100)), ms(3100));
        // One probe answered 50 ms ago (it was T1).
        assert_eq!(zero_window_dead_in(&zw(Some(3000), 1, 0, 50)), ms(2950));
        // Three answered, the last 100 ms ago: T1 was 0.4 + 0.8 + 0.1 s ago.
        assert_eq!(zero_window_dead_in(&zw(Some(3000), 3, 0, 100)), ms(1700));
        // Two sent, the second unanswered: counted from the first's answer.
        assert_eq!(zero_window_dead_in(&zw(Some(3000), 2, 1, 500)), ms(2500));
        // Past it: zero, never negative.
        assert_eq!(zero_window_dead_in(&zw(Some(1000), 4, 0, 100)), ms(0));
    }

    #[test]
    fn zero_window_without_a_user_timeout_needs_retries2_unanswered() {
        // From the closing ACK: probes after 0.2, 0.4, ... s, capped at 120 s;
        // the 16th firing (after 15 unanswered) aborts.
        let z = ZeroWindow {
            retries2: 3,
            ..zw(None, 0, 0, 0)
        };
        // 0.2 + 0.4 + 0.8 + 1.6 = 3.0 s.
        assert_eq!(zero_window_dead_in(&z), Duration::from_millis(3000));
        let z = zw(None, 0, 0, 0);
        assert!(zero_window_dead_in(&z) > Duration::from_secs(600));
    }

    #[test]
    fn silence_counts_each_timer_late_by_an_eighth() {
        assert_eq!(longest_silence(1, 1), 4);
        assert_eq!(longest_silence(8, 8), 18);
        assert_eq!(longest_silence(9, 1), 13);
        assert_eq!(longest_silence(300, 30), 300 + 38 + 30 + 4);
    }

    #[test]
    fn the_retries_model_matches_the_kernel() {
        assert_eq!(retries_timeout(15), Duration::from_millis(924_600));
        assert_eq!(retries_timeout(8), Duration::from_millis(102_200));
        assert_eq!(retries_timeout(0), Duration::from_millis(200));
    }
}
