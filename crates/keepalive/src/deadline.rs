//! The dead-peer deadline: one promise instead of four knobs.

use std::time::Duration;

use crate::rule::{kept_through, longest_silence};
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
/// # Through middleboxes: `max_idle`
///
/// NATs, firewalls and load balancers forget a flow after some silence
/// (AWS NLB and NAT gateway 350 s, Azure LB 4 min, GCP 10 min, Linux
/// conntrack `nf_conntrack_tcp_timeout_established`); the next packet is
/// then dropped or reset. [`max_idle(T)`](Deadline::max_idle) is that
/// silence, and the split then keeps two promises:
///
/// ```text
/// idle + ⌈idle/8⌉ + interval + ⌈interval/8⌉ < T     (never silent T, one probe lost)
/// idle + interval × probes = D, user timeout = D    (the deadline, as without it)
/// ```
///
/// On a healthy idle connection the longest silence on the wire comes when
/// one probe (or its answer) is lost before the middlebox: the probe due
/// `idle` after the last packet, then its repetition `interval` later. Each
/// is a kernel timer, which the timer wheel fires up to an eighth of its
/// length late (plus a jiffy); the whole-second ceilings cover both.
///
/// Where the split above keeps the silence under T already, it stays.
/// Otherwise, for each probe count (the one given, or, with none given,
/// every count from the default up to 127) the shortest interval that
/// keeps it (so the longest idle, the fewest probes on a healthy
/// connection); of those, the fewest probes whose idle is within a tenth of
/// the longest. The outage a healthy connection survives stays about D − T
/// whatever the count, so more probes, closer together, cost nothing but a
/// few packets to a peer that is gone. Values that cannot both hold
/// (`max_idle` 10 s with a deadline of 60 s and 3 probes) are refused with
/// [`Error::Conflict`], naming both and the shortest `max_idle` that holds.
///
/// | D | max_idle | idle | interval | probes | longest silence | outage survived |
/// |---|---|---|---|---|---|---|
/// | 60 s | 47 s or more | 30 s | 10 s | 3 | 46 s | 20 s |
/// | 60 s | 20 s | 14 s | 2 s | 23 | 19 s | 44 s |
/// | 900 s | 350 s (AWS) | 271 s | 37 s | 17 | 347 s | 592 s |
/// | 900 s | 240 s (Azure) | 187 s | 23 s | 31 | 237 s | 690 s |
/// | 3600 s | 600 s (GCP) | 450 s | 75 s | 42 | 592 s | 3075 s |
///
/// ```
/// use std::time::Duration;
/// use keepalive::Deadline;
///
/// let c = Deadline::new(Duration::from_secs(900)).max_idle(Duration::from_secs(350)).config()?;
/// assert_eq!((c.idle, c.interval, c.count),
///            (Some(Duration::from_secs(271)), Some(Duration::from_secs(37)), Some(17)));
/// assert_eq!(c.user_timeout, Some(Duration::from_secs(900)));
/// # Ok::<(), keepalive::Error>(())
/// ```
///
/// # Examples
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
    max_idle: Option<Duration>,
}

/// The widest probe spacing the split chooses unless `idle` would otherwise
/// pass its maximum: the kernel's default `tcp_keepalive_intvl`.
const MAX_SPLIT_INTERVAL_SECS: u64 = 75;

/// Probes used when the caller does not say, where the deadline allows.
pub(crate) const DEFAULT_PROBES: u32 = 3;

impl Deadline {
    /// A deadline of `after` (whole seconds, 2 or more), with the default
    /// number of probes.
    pub const fn new(after: Duration) -> Self {
        Deadline {
            after,
            probes: None,
            max_idle: None,
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
        Deadline::split_secs(secs, probes, None).map(|(deadline, _)| deadline)
    }

    /// A deadline from plain integers (as [`from_secs`](Self::from_secs) and
    /// [`max_idle_from_secs`](Self::max_idle_from_secs) take them), checked,
    /// with its split: computed once, for the doors that apply it at once.
    pub(crate) fn split_secs(
        secs: i64,
        probes: Option<i64>,
        max_idle: Option<i64>,
    ) -> Result<(Self, Config), Error> {
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
        let mut deadline = Deadline {
            after,
            probes,
            max_idle: None,
        };
        // The deadline and its probes are refused before a max_idle is
        // looked at, as when the two calls are made one after the other.
        if let Some(t) = max_idle {
            deadline.config()?;
            let t = check_max_idle(Given::Int(t), u64::try_from(t).ok())?;
            deadline = deadline.max_idle(Duration::from_secs(t));
        }
        let config = deadline.config()?;
        Ok((deadline, config))
    }

    /// The longest silence the path tolerates (a NAT, a firewall or a load
    /// balancer that forgets a flow silent for `max_idle`): whole seconds,
    /// 5..=4294967295. The split then keeps a healthy connection from being
    /// silent that long even when one probe or its answer is lost, and the
    /// deadline still holds (see [the rule](Deadline#through-middleboxes-max_idle)).
    pub const fn max_idle(mut self, max_idle: Duration) -> Self {
        self.max_idle = Some(max_idle);
        self
    }

    /// [`max_idle`](Self::max_idle) from a plain integer, as the C and
    /// Python bindings and the command lines receive it, checked at once
    /// with the deadline and its probes.
    ///
    /// ```
    /// let d = keepalive::Deadline::from_secs(60, None)?.max_idle_from_secs(40)?;
    /// let c = d.config()?;
    /// assert_eq!((c.idle.unwrap().as_secs(), c.interval.unwrap().as_secs(), c.count), (30, 3, Some(10)));
    /// let err = keepalive::Deadline::from_secs(60, Some(3))?.max_idle_from_secs(10).unwrap_err();
    /// assert_eq!(err.to_string(),
    ///            "max_idle must be at least 27 seconds with deadline 60 seconds and 3 probes, got 10");
    /// # Ok::<(), keepalive::Error>(())
    /// ```
    pub fn max_idle_from_secs(self, secs: i64) -> Result<Self, Error> {
        let t = check_max_idle(Given::Int(secs), u64::try_from(secs).ok())?;
        let deadline = self.max_idle(Duration::from_secs(t));
        deadline.config()?;
        Ok(deadline)
    }

    /// The deadline as given.
    pub const fn after(&self) -> Duration {
        self.after
    }

    /// The probes as given ([`probes`](Self::probes)); `None`: the default.
    pub const fn probes_given(&self) -> Option<u32> {
        self.probes
    }

    /// The `max_idle` as given ([`max_idle`](Self::max_idle)), if any.
    pub const fn max_idle_given(&self) -> Option<Duration> {
        self.max_idle
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
        let (n, interval) = match self.max_idle {
            None => (n, base_interval(secs, n)),
            Some(t) => {
                let whole = (t.subsec_nanos() == 0).then_some(t.as_secs());
                let t = check_max_idle(Given::Duration(t), whole)?;
                let tries = if self.probes.is_some() {
                    n..=n
                } else {
                    n..=max_probes
                };
                fit(secs, tries, t).map_err(|min| Error::Conflict {
                    name: "max_idle",
                    given: Given::Int(t as i64),
                    min: min as i64,
                    unit: "seconds",
                    deadline: secs,
                    probes: self.probes,
                    max_probes: max_probes as u32,
                })?
            }
        };
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

/// The default split's interval for a deadline of `secs` with `n` probes:
/// half the deadline for the probes, no wider than 75 s, unless idle would
/// pass its maximum.
fn base_interval(secs: u64, n: u64) -> u64 {
    let interval = (secs / (2 * n)).clamp(1, MAX_SPLIT_INTERVAL_SECS);
    if secs - n * interval > limits::MAX_IDLE_SECS as u64 {
        return (secs - limits::MAX_IDLE_SECS as u64).div_ceil(n);
    }
    interval
}

/// The split's probes and interval with a `max_idle` of `t`: the split
/// without it where that keeps the silence under `t` already; else, for each probe
/// count of `tries` (one, when the caller chose it), the shortest interval
/// (so the longest idle: the fewest probes on a healthy connection) that
/// keeps the longest silence under `t`, never shorter than the split
/// without `max_idle`; then, of those counts, the fewest whose idle is
/// within a tenth of the longest idle any of them allows. `Err`: the
/// shortest `max_idle` any of `tries` could keep.
fn fit(secs: u64, tries: std::ops::RangeInclusive<u64>, t: u64) -> Result<(u64, u64), u64> {
    // The split without max_idle, where it keeps the silence already.
    let n = *tries.start();
    let plain = base_interval(secs, n);
    if kept_through(secs - n * plain, plain, t) {
        return Ok((n, plain));
    }
    let mut shortest = u64::MAX;
    let mut fits: Vec<(u64, u64)> = Vec::new();
    for n in tries {
        if secs > max_deadline_secs(n as u32) as u64 {
            continue;
        }
        let (fit, least) = best_interval(secs, n, t);
        shortest = shortest.min(least);
        fits.extend(fit.map(|i| (n, i)));
    }
    let idle = |&(n, i): &(u64, u64)| secs - n * i;
    let Some(longest) = fits.iter().map(idle).max() else {
        return Err(shortest + 1);
    };
    Ok(*fits
        .iter()
        .find(|f| idle(f) * 10 >= longest * 9)
        .expect("the longest is within a tenth of itself"))
}

/// For `n` probes: the shortest interval that keeps the longest silence
/// under `t` (if any), and the shortest longest-silence any interval gives.
fn best_interval(secs: u64, n: u64, t: u64) -> (Option<u64>, u64) {
    let lo = base_interval(secs, n);
    // idle at least 1 s, interval at most its maximum.
    let hi = ((secs - 1) / n).min(limits::MAX_INTERVAL_SECS as u64);
    let silence = |i: u64| longest_silence(secs - n * i, i);
    let keeps = |i: u64| kept_through(secs - n * i, i, t);
    if n == 1 {
        // idle + interval = D whatever the interval: the silence only
        // depends on how the two round up, which repeats every 8 s.
        let range = lo..=hi.min(lo + 7);
        let least = range.clone().map(silence).min().unwrap_or(u64::MAX);
        return (range.into_iter().find(|&i| keeps(i)), least);
    }
    // n >= 2: a second more of interval takes n seconds off idle, so the
    // silence never grows with the interval: bisect.
    let least = silence(hi);
    if !keeps(hi) {
        return (None, least);
    }
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if keeps(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    (Some(lo), least)
}

/// A `max_idle` on its own: whole seconds, 5 (the shortest silence a split
/// can keep: 1 s idle, 1 s interval, each late by up to a second, is 4 s) up
/// to 4294967295 (a C `uint32_t`). `whole` is the value in whole seconds,
/// `None` when it is not one.
pub(crate) fn check_max_idle(given: Given, whole: Option<u64>) -> Result<u64, Error> {
    whole
        .filter(|t| (MIN_MAX_IDLE_SECS..=MAX_MAX_IDLE_SECS).contains(t))
        .ok_or(Error::InvalidValue {
            name: "max_idle",
            given,
            min: MIN_MAX_IDLE_SECS as i64,
            max: MAX_MAX_IDLE_SECS as i64,
            unit: "seconds",
        })
}

const MIN_MAX_IDLE_SECS: u64 = limits::MIN_MAX_IDLE_SECS as u64;
const MAX_MAX_IDLE_SECS: u64 = limits::MAX_MAX_IDLE_SECS as u64;

/// The longest deadline `probes` probes can stand for: idle and interval at
/// their maximum of 32767 s, and a user timeout that fits its `int`
/// milliseconds.
pub(crate) const fn max_deadline_secs(probes: u32) -> i64 {
    let probes = if probes < 1 {
        1
    } else if probes > limits::MAX_COUNT as u32 {
        limits::MAX_COUNT
    } else {
        probes as i64
    };
    let max = limits::MAX_IDLE_SECS + probes * limits::MAX_INTERVAL_SECS;
    if max < limits::MAX_DEADLINE_SECS {
        max
    } else {
        limits::MAX_DEADLINE_SECS
    }
}

fn deadline_error(given: Given, max: i64) -> Error {
    Error::InvalidValue {
        name: "deadline",
        given,
        min: limits::MIN_DEADLINE_SECS,
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

    fn split_within(d: u64, probes: Option<u32>, t: u64) -> Result<(u64, u64, u32), Error> {
        let mut deadline = Deadline::new(Duration::from_secs(d)).max_idle(Duration::from_secs(t));
        if let Some(n) = probes {
            deadline = deadline.probes(n);
        }
        let c = deadline.config()?;
        Ok((
            c.idle.unwrap().as_secs(),
            c.interval.unwrap().as_secs(),
            c.count.unwrap(),
        ))
    }

    /// The reference: every interval of every probe count, by brute force:
    /// for each count the longest idle that keeps the silence under `t`;
    /// then the fewest probes within a tenth of the longest of those.
    fn brute(d: u64, tries: std::ops::RangeInclusive<u64>, t: u64) -> Option<(u64, u64)> {
        let (n, i) = (*tries.start(), base_interval(d, *tries.start()));
        if longest_silence(d - n * i, i) < t {
            return Some((n, i));
        }
        let mut fits = vec![];
        for n in tries {
            if d as i64 > max_deadline_secs(n as u32) {
                continue;
            }
            let best = (base_interval(d, n)..=((d - 1) / n).min(32767))
                .filter(|&i| longest_silence(d - n * i, i) < t)
                .max_by_key(|&i| (d - n * i, std::cmp::Reverse(i)));
            fits.extend(best.map(|i| (n, i)));
        }
        let longest = fits.iter().map(|&(n, i)| d - n * i).max()?;
        fits.into_iter()
            .find(|&(n, i)| (d - n * i) * 10 >= longest * 9)
    }

    /// Every deadline, probe count and max_idle in a range: either refused
    /// (and then no split at all keeps both promises, and the error's
    /// minimum is the shortest max_idle that is accepted), or the deadline
    /// holds by the kernel's rule (rule.rs: dead at exactly D after exactly
    /// n probes) and the longest silence with one probe lost is under
    /// max_idle, with the longest idle that allows (the reference search).
    #[test]
    fn every_max_idle_keeps_both_promises_or_is_refused() {
        for d in 2..=150u64 {
            let max_probes = (d - 1).min(127);
            let mut probe_choices: Vec<Option<u32>> = vec![None];
            probe_choices.extend((1..=max_probes.min(8)).map(|n| Some(n as u32)));
            for probes in probe_choices {
                let first = probes.map_or(DEFAULT_PROBES.min(max_probes as u32), |n| n) as u64;
                let tries = if probes.is_some() {
                    first..=first
                } else {
                    first..=max_probes
                };
                let plain = split(d, probes);
                for t in 5..=(d + d / 4 + 12) {
                    let got = split_within(d, probes, t);
                    let expected = brute(d, tries.clone(), t);
                    let Ok((idle, interval, count)) = got else {
                        let err = got.unwrap_err();
                        assert!(expected.is_none(), "D={d} {probes:?} T={t}: {err}");
                        let Error::Conflict { min, .. } = err else {
                            panic!("{err:?}")
                        };
                        assert!(min as u64 > t);
                        assert!(split_within(d, probes, min as u64).is_ok(), "D={d} T={t}");
                        assert!(split_within(d, probes, min as u64 - 1).is_err());
                        continue;
                    };
                    assert_eq!(
                        Some((u64::from(count), interval)),
                        expected,
                        "D={d} {probes:?} T={t}"
                    );
                    assert_eq!(idle + interval * u64::from(count), d);
                    let timers = Timers {
                        idle: Duration::from_secs(idle),
                        interval: Duration::from_secs(interval),
                        count,
                        user_timeout: Duration::from_secs(d),
                    };
                    assert_eq!(timers.idle_death(), Duration::from_secs(d), "D={d} T={t}");
                    assert_eq!(timers.probes_before_death(), count, "D={d} T={t}");
                    assert!(longest_silence(idle, interval) < t, "D={d} T={t}");
                    // Where the plain split keeps the silence already, it stays.
                    if longest_silence(plain.0, plain.1) < t {
                        assert_eq!((idle, interval, count), plain, "D={d} T={t}");
                    }
                }
            }
        }
    }

    #[test]
    fn max_idle_tables() {
        // AWS NLB / NAT gateway (350 s) with a 15-minute deadline.
        assert_eq!(split(900, None), (675, 75, 3));
        assert_eq!(split_within(900, None, 350).unwrap(), (271, 37, 17));
        // With the caller's 3 probes: a short idle.
        assert_eq!(split_within(900, Some(3), 350).unwrap(), (15, 295, 3));
        // A 20 s router, a 60 s deadline.
        assert_eq!(split_within(60, None, 20).unwrap(), (14, 2, 23));
        assert_eq!(split_within(600, None, 60).unwrap(), (42, 9, 62));
        // Long enough already: unchanged.
        assert_eq!(split_within(60, None, 47).unwrap(), (30, 10, 3));
    }

    #[test]
    fn a_max_idle_that_cannot_hold_names_both() {
        let msg = |d: u64, p: Option<u32>, t: u64| split_within(d, p, t).unwrap_err().to_string();
        assert_eq!(
            msg(60, Some(3), 10),
            "max_idle must be at least 27 seconds with deadline 60 seconds and 3 probes, got 10"
        );
        assert_eq!(
            msg(131_068, None, 60),
            "max_idle must be at least 1167 seconds with deadline 131068 seconds and up to 127 probes, got 60"
        );
        for (t, want) in [
            (
                Duration::from_secs(4),
                "max_idle must be 5..4294967295 seconds, got 4",
            ),
            (
                Duration::from_millis(20_500),
                "max_idle must be a whole number of seconds in 5..4294967295, got 20.5s",
            ),
        ] {
            let err = Deadline::new(Duration::from_secs(60)).max_idle(t).config();
            assert_eq!(err.unwrap_err().to_string(), want);
        }
        let d = Deadline::from_secs(60, None).unwrap();
        assert!(d.max_idle_from_secs(-1).is_err());
        assert!(d.max_idle_from_secs(i64::MAX).is_err());
        assert!(d.max_idle_from_secs(4_294_967_295).is_ok());
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
        let ms = Duration::from_millis;
        let cases = [
            (ms(0), None, "deadline must be 2..131068 seconds, got 0"),
            (
                ms(131_069_000),
                None,
                "deadline must be 2..131068 seconds, got 131069",
            ),
            (
                ms(2500),
                None,
                "deadline must be a whole number of seconds in 2..131068, got 2.5s",
            ),
            (
                ms(3_000_000_000),
                Some(100),
                "deadline must be 2..2147483 seconds, got 3000000",
            ),
            (
                ms(60_000),
                Some(0),
                "probes must be 1..59 probes for this deadline, got 0",
            ),
            (
                ms(600_000),
                Some(128),
                "probes must be 1..127 probes for this deadline, got 128",
            ),
            // A deadline of 2 s leaves room for one probe only: said as such.
            (
                ms(2000),
                Some(5),
                "probes must be 1 probe for this deadline, got 5",
            ),
        ];
        for (d, probes, want) in cases {
            assert_eq!(msg(d, probes), want, "{d:?} {probes:?}");
        }
        assert!(Deadline::from_secs(60, Some(-1)).is_err());
        assert!(Deadline::from_secs(60, Some(i64::MAX)).is_err());
        assert!(Deadline::from_secs(i64::MIN, None).is_err());
    }
}
