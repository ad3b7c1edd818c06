//! The per-system arithmetic of the deadline, as plain functions compiled on
//! every system, so that their unit tests run on Linux too (the systems
//! themselves are only compiled here, never run).
//!
//! What each system uses to end a connection whose sent data stays
//! unacknowledged (the "busy bound" that the portable
//! [`Config::user_timeout`](crate::Config::user_timeout) stands for), and in
//! which unit:
//!
//! | system | option | unit | counted from | checked |
//! |---|---|---|---|---|
//! | Linux, Android | `TCP_USER_TIMEOUT` | ms | the first retransmission | the retransmission timer is clamped to fire at it |
//! | macOS, iOS | `TCP_RXT_CONNDROPTIME` (0x80) | s | the first retransmission | when the retransmission timer fires |
//! | FreeBSD 14+ | `TCP_MAXUNACKTIME` (68) | s | the last ACK that acknowledged new data | when the retransmission or persist timer fires |
//! | Windows 10 1607+ | `TCP_MAXRTMS` (14) | ms | the first retransmission | by the system |
//! | older Windows | `TCP_MAXRT` (5) | s | the first retransmission | by the system |

// Each function is used by the sys module of one system only; all of them are
// compiled everywhere for their tests.
#![cfg_attr(not(test), allow(dead_code))]

use std::time::Duration;

use crate::{limits, Error, Given};

/// The unit a system's busy-bound option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Millis,
    Secs,
}

/// Whether a set user timeout also ends an *idle* connection, replacing
/// `TCP_KEEPCNT` (Linux's `tcp_keepalive_timer()`, see `rule.rs`). Nowhere
/// else: on macOS, iOS, FreeBSD and Windows the keepalive timer counts
/// probes only, and the busy bound is checked by the retransmission timer.
pub(crate) const USER_TIMEOUT_ENDS_IDLE: bool =
    cfg!(any(target_os = "linux", target_os = "android"));

/// The user timeout as seen by the idle rule: itself where it replaces the
/// probe count ([`USER_TIMEOUT_ENDS_IDLE`]), none elsewhere.
pub(crate) fn idle_rule_user_timeout(user_timeout: Duration, ends_idle: bool) -> Duration {
    if ends_idle {
        user_timeout
    } else {
        Duration::ZERO
    }
}

/// The option value for a validated user timeout (`ms`, 0..=i32::MAX) in a
/// system's unit. A system that counts whole seconds refuses a fractional
/// second as an invalid value (never rounded: a bound rounded down would
/// drop a connection early, one rounded up late), before any change.
pub(crate) fn busy_value(unit: Unit, ms: i32) -> Result<i32, Error> {
    match unit {
        Unit::Millis => Ok(ms),
        Unit::Secs if ms % 1000 == 0 => Ok(ms / 1000),
        Unit::Secs => Err(Error::InvalidValue {
            name: "user_timeout",
            given: Given::Duration(Duration::from_millis(ms.max(0) as u64)),
            min: 0,
            max: limits::MAX_USER_TIMEOUT_MS / 1000,
            unit: "seconds",
        }),
    }
}

/// A busy-bound option's value read back, as the user timeout it stands for.
pub(crate) fn busy_duration(unit: Unit, value: i32) -> Duration {
    let value = value.max(0) as u64;
    match unit {
        Unit::Millis => Duration::from_millis(value),
        Unit::Secs => Duration::from_secs(value),
    }
}

/// The probes Windows sends before it gives up on an idle connection when
/// `TCP_KEEPCNT` does not exist (before Windows 10 1703): fixed at 10.
pub(crate) const WINDOWS_FIXED_PROBES: u32 = 10;

/// Windows' documented defaults for what `SIO_KEEPALIVE_VALS` needs and the
/// caller did not give: 2 hours idle, 1 second between probes.
pub(crate) const WINDOWS_DEFAULT_IDLE_SECS: u32 = 7200;
pub(crate) const WINDOWS_DEFAULT_INTERVAL_SECS: u32 = 1;

/// `struct tcp_keepalive` of `SIO_KEEPALIVE_VALS` (`mstcpip.h`):
/// milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SioKeepaliveVals {
    pub(crate) time_ms: u32,
    pub(crate) interval_ms: u32,
}

/// What `SIO_KEEPALIVE_VALS` must be given so that an idle connection dies
/// when idle + interval × count says, although the count is fixed at 10:
/// the interval is rescaled to interval × count / 10 (exact in
/// milliseconds: interval × count × 100). Validated values (seconds,
/// count 1..=127); an idle or interval not given takes Windows' default,
/// since the ioctl sets both; no count keeps the interval as given.
pub(crate) fn sio_keepalive_vals(
    idle: Option<i32>,
    interval: Option<i32>,
    count: Option<i32>,
) -> SioKeepaliveVals {
    let idle = idle.map_or(WINDOWS_DEFAULT_IDLE_SECS, |s| s.max(0) as u32);
    let interval = interval.map_or(WINDOWS_DEFAULT_INTERVAL_SECS, |s| s.max(0) as u32);
    let interval_ms = match count {
        Some(n) => interval * n.max(0) as u32 * (1000 / WINDOWS_FIXED_PROBES),
        None => interval * 1000,
    };
    SioKeepaliveVals {
        time_ms: idle * 1000,
        interval_ms,
    }
}

/// How late after the deadline macOS and iOS may declare a busy connection
/// dead: `TCP_RXT_CONNDROPTIME` is counted from the first retransmission
/// (one RTO, `rto`, after the peer's last ACK) and checked only when the
/// retransmission timer fires, at 2, 6, 14, ... × `rto` after the first
/// retransmission (each timeout doubling, none longer than 64 s,
/// `TCPTV_REXMTMAX`). Returns the moment, counted from the peer's last ACK,
/// at which the connection is dropped for a bound of `bound`: never before
/// `bound` + `rto`, and later by less than one timeout, at most
/// min(`bound` + 2 × `rto`, 64 s).
///
/// A model, not called by any system's code: it backs, with its test, the
/// bound the docs give for macOS and iOS ([`crate::set_deadline`]).
#[cfg(test)]
pub(crate) fn apple_busy_death(bound: Duration, rto: Duration) -> Duration {
    const REXMT_MAX: Duration = Duration::from_secs(64);
    let rto = rto.max(Duration::from_millis(1));
    let mut since_first = Duration::ZERO;
    let mut next = rto.saturating_mul(2).min(REXMT_MAX);
    while since_first < bound {
        since_first += next;
        next = next.saturating_mul(2).min(REXMT_MAX);
    }
    rto + since_first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_pass_unchanged() {
        assert_eq!(busy_value(Unit::Millis, 1500).unwrap(), 1500);
        assert_eq!(busy_value(Unit::Millis, 0).unwrap(), 0);
        assert_eq!(busy_value(Unit::Millis, i32::MAX).unwrap(), i32::MAX);
    }

    #[test]
    fn seconds_take_whole_seconds_only() {
        assert_eq!(busy_value(Unit::Secs, 60_000).unwrap(), 60);
        assert_eq!(busy_value(Unit::Secs, 0).unwrap(), 0);
        assert_eq!(busy_value(Unit::Secs, 2_147_483_000).unwrap(), 2_147_483);
        let err = busy_value(Unit::Secs, 5500).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidValue {
                name: "user_timeout",
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "user_timeout must be a whole number of seconds in 0..2147483, got 5.5s"
        );
        assert!(busy_value(Unit::Secs, 1).is_err());
    }

    #[test]
    fn read_back_in_each_unit() {
        assert_eq!(busy_duration(Unit::Secs, 60), Duration::from_secs(60));
        assert_eq!(busy_duration(Unit::Millis, 60), Duration::from_millis(60));
        assert_eq!(busy_duration(Unit::Secs, -1), Duration::ZERO);
    }

    #[test]
    fn only_linux_lets_the_user_timeout_end_an_idle_connection() {
        let ut = Duration::from_secs(9);
        assert_eq!(idle_rule_user_timeout(ut, true), ut);
        assert_eq!(idle_rule_user_timeout(ut, false), Duration::ZERO);
        assert_eq!(USER_TIMEOUT_ENDS_IDLE, cfg!(target_os = "linux"));
    }

    /// The rescaled interval keeps idle + 10 × interval' = idle + count ×
    /// interval, for every count and the documented deadlines' splits.
    #[test]
    fn sio_rescales_the_interval_to_ten_probes() {
        let v = sio_keepalive_vals(Some(30), Some(10), Some(3));
        assert_eq!(
            v,
            SioKeepaliveVals {
                time_ms: 30_000,
                interval_ms: 3_000
            }
        );
        for count in 1..=127u32 {
            for (idle, interval) in [(1, 1), (30, 10), (75, 25), (3375, 75), (32767, 32767)] {
                let v = sio_keepalive_vals(Some(idle), Some(interval), Some(count as i32));
                let dies_ms = u64::from(v.time_ms)
                    + u64::from(WINDOWS_FIXED_PROBES) * u64::from(v.interval_ms);
                let wanted_ms = (idle as u64 + u64::from(count) * interval as u64) * 1000;
                assert_eq!(
                    dies_ms, wanted_ms,
                    "idle {idle} interval {interval} count {count}"
                );
            }
        }
    }

    #[test]
    fn sio_fills_what_was_not_given_with_windows_defaults() {
        assert_eq!(
            sio_keepalive_vals(None, None, None),
            SioKeepaliveVals {
                time_ms: 7_200_000,
                interval_ms: 1_000
            }
        );
        assert_eq!(sio_keepalive_vals(Some(5), None, None).interval_ms, 1_000);
        assert_eq!(
            sio_keepalive_vals(None, Some(2), Some(5)).interval_ms,
            1_000
        );
    }

    /// The figures docs/deadline.md gives for macOS: never before D, and
    /// late by less than one retransmission timeout (at most 64 s).
    #[test]
    fn apple_busy_death_is_never_early_and_late_by_one_gap_at_most() {
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        assert_eq!(apple_busy_death(s(60), ms(200)), ms(200 + 102_000));
        assert_eq!(apple_busy_death(s(10), ms(200)), ms(200 + 12_400));
        for d in [2u64, 5, 10, 30, 60, 150, 600, 3600] {
            for rto in [200u64, 300, 1000, 3000] {
                let death = apple_busy_death(s(d), ms(rto));
                assert!(death >= s(d) + ms(rto), "D={d} rto={rto}");
                let late = death - s(d) - ms(rto);
                assert!(
                    late < (s(d) + ms(2 * rto)).min(s(64)),
                    "D={d} rto={rto}: {late:?}"
                );
            }
        }
    }
}
