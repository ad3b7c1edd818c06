//! The dead-peer deadline: one promise instead of four knobs.

use std::time::Duration;

use crate::{limits, Config, Error, Given};

/// A dead-peer deadline: declare the connection dead about `D` seconds after
/// the peer was last heard from, whether it is idle (keepalive probes) or has
/// data in flight (retransmissions).
///
/// It becomes four settings, applied together by [`set`](crate::set), all or
/// nothing ([`set_deadline`](crate::set_deadline) does both):
///
/// - `TCP_USER_TIMEOUT` = D: bounds a busy connection (unacknowledged data),
///   which keepalive never probes; and, since on Linux a set user timeout
///   replaces `TCP_KEEPCNT` for an idle connection too, it is the rule that
///   ends an idle one as well;
/// - `TCP_KEEPIDLE` + `TCP_KEEPINTVL` × `TCP_KEEPCNT` = D, so that the last
///   of the `probes` probes goes out one interval before the deadline and the
///   connection dies at D after exactly `probes` unanswered probes, by either
///   rule.
///
/// # The split
///
/// A healthy idle connection sends one probe (and gets one answer) every
/// `idle` seconds, so a long idle costs the fewest packets. The probes share
/// the rest, `probes × interval`, and the wider they are spaced the longer a
/// network outage (a link flap, a Wi-Fi handover, a load balancer failover)
/// the connection rides out without a false alarm: an outage kills a healthy
/// connection only if it covers every probe, that is if it lasts more than
/// `(probes − 1) × interval`. Each independent loss of a probe or its answer
/// is survived up to `probes − 1` times per cycle.
///
/// The split gives the probes half of the deadline, but spaces them no
/// wider than 75 s (the kernel's own default interval):
///
/// ```text
/// interval = clamp(D / (2 × probes), 1 s, 75 s)     (rounded down to whole seconds)
/// idle     = D − probes × interval
/// ```
///
/// Half, because the two costs are then balanced: one probe every D/2 on a
/// healthy connection (8 in 10 minutes for D = 150 s, against 40 for Go's
/// default 15 s/15 s/9 with the same 150 s), and an outage of up to D/3
/// survived (50 s at D = 150 s with 3 probes). The 75 s cap, because an
/// outage of minutes is what a deadline that long is for, and does not need a
/// probe window of half an hour: at D = 1 h the split is 3375 s + 3 × 75 s,
/// one probe every 56 minutes instead of every 30, and outages up to 150 s
/// survived. Where `idle` would pass its maximum (32767 s), the interval
/// grows instead.
///
/// | D | probes | idle | interval | probes per hour, healthy | outage survived |
/// |---|---|---|---|---|---|
/// | 5 s | 3 | 2 s | 1 s | 1800 | 2 s |
/// | 60 s | 3 | 30 s | 10 s | 120 | 20 s |
/// | 150 s | 3 | 75 s | 25 s | 48 | 50 s |
/// | 900 s | 3 | 675 s | 75 s | 5.3 | 150 s |
/// | 3600 s | 3 | 3375 s | 75 s | 1.07 | 150 s |
///
/// `probes` defaults to 3 (two may be lost without a false alarm), fewer
/// only where D is too short for three (D = 2 s: 1 probe, D = 3 s: 2).
///
/// ```
/// use std::time::Duration;
/// use keepalive::Deadline;
///
/// let c = Deadline::new(Duration::from_secs(150)).config()?;
/// assert_eq!(c.idle, Some(Duration::from_secs(75)));
/// assert_eq!(c.interval, Some(Duration::from_secs(25)));
/// assert_eq!(c.count, Some(3));
/// assert_eq!(c.user_timeout, Some(Duration::from_secs(150)));
///
/// // More probes, more tolerance of lost ones; the same deadline.
/// let c = Deadline::new(Duration::from_secs(60)).probes(5).config()?;
/// assert_eq!((c.idle, c.interval), (Some(Duration::from_secs(30)), Some(Duration::from_secs(6))));
///
/// // Bad values name the range; nothing is applied anywhere.
/// let err = Deadline::new(Duration::from_secs(1)).config().unwrap_err();
/// assert_eq!(err.to_string(), "deadline must be 2..131068 seconds, got 1");
/// let err = Deadline::new(Duration::from_secs(4)).probes(4).config().unwrap_err();
/// assert_eq!(err.to_string(), "probes must be 1..3 probes for this deadline, got 4");
/// # Ok::<(), keepalive::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Deadline {
    after: Duration,
    probes: Option<u32>,
}

/// The widest probe spacing the split chooses unless `idle` would otherwise
/// pass its maximum: the kernel's default `tcp_keepalive_intvl`.
const MAX_SPLIT_INTERVAL_SECS: u64 = 75;

/// Probes used when the caller does not say, where the deadline allows.
const DEFAULT_PROBES: u32 = 3;

impl Deadline {
    /// A deadline of `after` (whole seconds, 2 or more), with the default
    /// number of probes.
    pub const fn new(after: Duration) -> Self {
        Deadline {
            after,
            probes: None,
        }
    }

    /// How many unanswered probes declare an idle peer dead: 1 up to D − 1
    /// (each needs a second), at most 127 (`TCP_KEEPCNT`'s maximum).
    pub const fn probes(mut self, probes: u32) -> Self {
        self.probes = Some(probes);
        self
    }

    /// A deadline from plain integers, as the C and Python bindings receive
    /// them, checked at once (`probes` `None`: the default).
    ///
    /// ```
    /// let d = keepalive::Deadline::from_secs(60, Some(4))?;
    /// assert_eq!(d.config()?.count, Some(4));
    /// let err = keepalive::Deadline::from_secs(-5, None).unwrap_err();
    /// assert_eq!(err.to_string(), "deadline must be 2..131068 seconds, got -5");
    /// # Ok::<(), keepalive::Error>(())
    /// ```
    pub fn from_secs(secs: i64, probes: Option<i64>) -> Result<Self, Error> {
        let probes = match probes {
            None => None,
            // Out of u32 is out of range too; the check names the range.
            Some(n) => Some(u32::try_from(n).map_err(|_| {
                let max = secs.clamp(2, limits::MAX_COUNT + 1) - 1;
                probes_error(Given::Int(n), max)
            })?),
        };
        let after = u64::try_from(secs).map(Duration::from_secs).map_err(|_| {
            deadline_error(
                Given::Int(secs),
                max_deadline_secs(probes.unwrap_or(DEFAULT_PROBES)),
            )
        })?;
        let deadline = Deadline { after, probes };
        deadline.config()?;
        Ok(deadline)
    }

    /// The deadline as given.
    pub const fn after(&self) -> Duration {
        self.after
    }

    /// The settings this deadline stands for: idle, interval and count with
    /// idle + interval × count = D, and a user timeout of D. Checks the
    /// deadline (whole seconds, 2..=131068 with 3 probes; more probes allow
    /// up to 32767 × (probes + 1), at most 2147483 s) and the probes
    /// (1..=min(127, D − 1)).
    pub fn config(&self) -> Result<Config, Error> {
        let d = self.after;
        let probes = self.probes.unwrap_or(DEFAULT_PROBES);
        let whole = d.subsec_nanos() == 0;
        let secs = d.as_secs();
        if !whole || secs < 2 || secs > limits::MAX_DEADLINE_SECS as u64 {
            return Err(deadline_error(
                Given::Duration(d),
                max_deadline_secs(probes),
            ));
        }
        let max_probes = (secs - 1).min(limits::MAX_COUNT as u64);
        let n = match self.probes {
            None => u64::from(DEFAULT_PROBES).min(max_probes),
            Some(n) => {
                if !(1..=max_probes).contains(&u64::from(n)) {
                    return Err(probes_error(Given::Int(i64::from(n)), max_probes as i64));
                }
                u64::from(n)
            }
        };
        let max = max_deadline_secs(n as u32);
        if secs > max as u64 {
            return Err(deadline_error(Given::Duration(d), max));
        }
        let max_idle = limits::MAX_IDLE_SECS as u64;
        let mut interval = (secs / (2 * n)).clamp(1, MAX_SPLIT_INTERVAL_SECS);
        if secs - n * interval > max_idle {
            interval = (secs - max_idle).div_ceil(n);
        }
        let idle = secs - n * interval;
        let config = Config {
            idle: Some(Duration::from_secs(idle)),
            interval: Some(Duration::from_secs(interval)),
            count: Some(n as u32),
            user_timeout: Some(d),
        };
        debug_assert!(config.check().is_ok(), "{config:?}");
        Ok(config)
    }
}

/// The longest deadline `probes` probes can stand for: idle and interval at
/// their maximum of 32767 s, and a user timeout that fits its `int`
/// milliseconds.
fn max_deadline_secs(probes: u32) -> i64 {
    let probes = i64::from(probes.clamp(1, limits::MAX_COUNT as u32));
    (limits::MAX_IDLE_SECS + probes * limits::MAX_INTERVAL_SECS).min(limits::MAX_DEADLINE_SECS)
}

fn deadline_error(given: Given, max: i64) -> Error {
    Error::InvalidValue {
        name: "deadline",
        given,
        min: 2,
        max,
        unit: "seconds",
    }
}

fn probes_error(given: Given, max: i64) -> Error {
    Error::InvalidValue {
        name: "probes",
        given,
        min: 1,
        max,
        unit: "probes for this deadline",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Timers;

    fn split(d: u64, probes: Option<u32>) -> (u64, u64, u32) {
        let mut deadline = Deadline::new(Duration::from_secs(d));
        if let Some(n) = probes {
            deadline = deadline.probes(n);
        }
        let c = deadline.config().unwrap();
        (
            c.idle.unwrap().as_secs(),
            c.interval.unwrap().as_secs(),
            c.count.unwrap(),
        )
    }

    #[test]
    fn the_documented_table() {
        assert_eq!(split(5, None), (2, 1, 3));
        assert_eq!(split(60, None), (30, 10, 3));
        assert_eq!(split(150, None), (75, 25, 3));
        assert_eq!(split(900, None), (675, 75, 3));
        assert_eq!(split(3600, None), (3375, 75, 3));
    }

    #[test]
    fn short_deadlines_use_fewer_probes() {
        assert_eq!(split(2, None), (1, 1, 1));
        assert_eq!(split(3, None), (1, 1, 2));
        assert_eq!(split(4, None), (1, 1, 3));
    }

    /// Every deadline, with every probe count it allows: the settings are in
    /// range, add up to D, and the kernel's rule kills an idle connection at
    /// exactly D after exactly `probes` probes.
    #[test]
    fn every_split_adds_up_and_dies_at_the_deadline() {
        let mut ds: Vec<u64> = (2..=2000).collect();
        ds.extend([32767, 32992, 32993, 100_000, 131_068]);
        for d in ds {
            let max_probes = (d - 1).min(127) as u32;
            let probe_counts: Vec<u32> = if d <= 300 {
                (1..=max_probes).collect()
            } else {
                vec![1, 3, max_probes]
            };
            for n in probe_counts {
                let deadline = Deadline::new(Duration::from_secs(d)).probes(n);
                let Ok(c) = deadline.config() else {
                    assert!(d as i64 > max_deadline_secs(n), "D={d} n={n}");
                    continue;
                };
                c.check().unwrap();
                let (idle, interval, count) =
                    (c.idle.unwrap(), c.interval.unwrap(), c.count.unwrap());
                assert_eq!(count, n);
                assert_eq!(
                    idle + interval * count,
                    Duration::from_secs(d),
                    "D={d} n={n}"
                );
                assert_eq!(c.user_timeout, Some(Duration::from_secs(d)));
                let timers = Timers {
                    idle,
                    interval,
                    count,
                    user_timeout: Duration::from_secs(d),
                };
                assert_eq!(timers.idle_death(), Duration::from_secs(d), "D={d} n={n}");
                assert_eq!(timers.probes_before_death(), n, "D={d} n={n}");
            }
        }
    }

    #[test]
    fn long_deadlines_grow_the_interval_past_the_cap() {
        assert_eq!(split(32992, None), (32767, 75, 3));
        assert_eq!(split(32993, None), (32765, 76, 3));
        assert_eq!(split(131_068, None), (32767, 32767, 3));
        assert_eq!(
            split(131_069, Some(4)).0 + 4 * split(131_069, Some(4)).1,
            131_069
        );
    }

    #[test]
    fn bad_deadlines_say_the_range() {
        let msg = |d: Duration, p: Option<u32>| {
            let mut deadline = Deadline::new(d);
            if let Some(n) = p {
                deadline = deadline.probes(n);
            }
            deadline.config().unwrap_err().to_string()
        };
        assert_eq!(
            msg(Duration::ZERO, None),
            "deadline must be 2..131068 seconds, got 0"
        );
        assert_eq!(
            msg(Duration::from_secs(131_069), None),
            "deadline must be 2..131068 seconds, got 131069"
        );
        assert_eq!(
            msg(Duration::from_millis(2500), None),
            "deadline must be a whole number of seconds in 2..131068, got 2.5s"
        );
        assert_eq!(
            msg(Duration::from_secs(3_000_000), Some(100)),
            "deadline must be 2..2147483 seconds, got 3000000"
        );
        assert_eq!(
            msg(Duration::from_secs(60), Some(0)),
            "probes must be 1..59 probes for this deadline, got 0"
        );
        assert_eq!(
            msg(Duration::from_secs(600), Some(128)),
            "probes must be 1..127 probes for this deadline, got 128"
        );
        // A deadline of 2 s leaves room for one probe only: said as such.
        assert_eq!(
            msg(Duration::from_secs(2), Some(5)),
            "probes must be 1 probe for this deadline, got 5"
        );
        assert!(Deadline::from_secs(60, Some(-1)).is_err());
        assert!(Deadline::from_secs(60, Some(i64::MAX)).is_err());
        assert!(Deadline::from_secs(i64::MIN, None).is_err());
    }
}
