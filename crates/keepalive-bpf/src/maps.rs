//! The two maps the programs share, as bpf/policy.h lays them out: the
//! policy (written here, read by the programs) and the counters (written by
//! the programs, read here). The structs and bits below mirror that header;
//! the tests hold them to it, field by field, with the C compiler.

use std::time::Duration;

use keepalive::Config;

use crate::Error;

const IDLE: u32 = 1 << 0;
const INTERVAL: u32 = 1 << 1;
const COUNT: u32 = 1 << 2;
const USER_TIMEOUT: u32 = 1 << 3;
const DEADLINE: u32 = 1 << 4;

/// `struct keepalive_policy`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Policy {
    set: u32,
    enforce: u32,
    idle: i32,
    interval: i32,
    count: i32,
    user_timeout_ms: i32,
    deadline_ms: i32,
    hz: u32,
}

// SAFETY: plain integers, no padding (eight 4-byte fields), any bit pattern valid.
unsafe impl aya::Pod for Policy {}

impl Policy {
    /// The policy for `config`, checked by the core first: the programs copy
    /// these numbers into setsockopt calls without looking at them.
    pub(crate) fn new(config: &Config, enforce: bool) -> Result<Policy, Error> {
        config.check()?;
        let mut p = Policy {
            enforce: u32::from(enforce),
            ..Policy::default()
        };
        // In range after check(): idle and interval <= 32767 s, count <= 127,
        // the user timeout <= i32::MAX ms.
        if let Some(d) = config.idle {
            p.set |= IDLE;
            p.idle = d.as_secs() as i32;
        }
        if let Some(d) = config.interval {
            p.set |= INTERVAL;
            p.interval = d.as_secs() as i32;
        }
        if let Some(n) = config.count {
            p.set |= COUNT;
            p.count = n as i32;
        }
        if let Some(d) = config.user_timeout {
            p.set |= USER_TIMEOUT;
            p.user_timeout_ms = d.as_millis() as i32;
        }
        Ok(p)
    }

    /// The same policy, kept as a dead-peer deadline of `deadline` in every
    /// state: the sock_ops program shortens the user timeout at each
    /// retransmission timeout to what is left of it since the peer was last
    /// heard, which it counts in the kernel's jiffies (`hz` a second).
    pub(crate) fn with_deadline(mut self, deadline: Duration, hz: u32) -> Policy {
        self.set |= DEADLINE;
        // In range: a deadline's user timeout, which Config::check allowed.
        self.deadline_ms = deadline.as_millis().min(i32::MAX as u128) as i32;
        self.hz = hz;
        self
    }

    /// The deadline kept in every state, if this is a deadline policy.
    pub(crate) fn deadline(&self) -> Option<Duration> {
        (self.set & DEADLINE != 0).then(|| Duration::from_millis(self.deadline_ms.max(0) as u64))
    }

    /// The configuration this policy stands for, as read back from the map.
    pub(crate) fn config(&self) -> Config {
        let secs =
            |bit, v: i32| (self.set & bit != 0).then(|| Duration::from_secs(v.max(0) as u64));
        Config {
            idle: secs(IDLE, self.idle),
            interval: secs(INTERVAL, self.interval),
            count: (self.set & COUNT != 0).then_some(self.count.max(0) as u32),
            user_timeout: (self.set & USER_TIMEOUT != 0)
                .then(|| Duration::from_millis(self.user_timeout_ms.max(0) as u64)),
        }
    }

    pub(crate) fn enforce(&self) -> bool {
        self.enforce != 0
    }

    /// The same policy, not enforced: what the map holds until the
    /// setsockopt program is attached.
    pub(crate) fn without_enforce(mut self) -> Policy {
        self.enforce = 0;
        self
    }
}

/// `struct keepalive_stats`, one per CPU in the map, summed.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sockets the sock_ops program gave the policy as their connection
    /// was established (a connection made and accepted in the cgroup has
    /// two).
    pub tuned: u64,
    /// Values of their own those connections kept (no `--enforce`).
    pub kept: u64,
    /// The programs' own keepalive `setsockopt` calls rewritten to the
    /// policy (`--enforce`).
    pub rewritten: u64,
    /// `bpf_setsockopt` calls the kernel refused (should stay 0).
    pub failed: u64,
}

// SAFETY: plain integers, no padding, any bit pattern valid.
unsafe impl aya::Pod for Stats {}

impl std::ops::Add for Stats {
    type Output = Stats;
    fn add(self, o: Stats) -> Stats {
        Stats {
            tuned: self.tuned + o.tuned,
            kept: self.kept + o.kept,
            rewritten: self.rewritten + o.rewritten,
            failed: self.failed + o.failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepalive::Deadline;

    use crate::c_layout::assert_same_layout;

    #[test]
    fn the_policy_is_laid_out_as_policy_h_says() {
        assert_same_layout! {
            "policy.h", "keepalive_policy", Policy,
            [set, enforce, idle, interval, count, user_timeout_ms, deadline_ms, hz],
            [
                ("POLICY_IDLE", IDLE.into()),
                ("POLICY_INTERVAL", INTERVAL.into()),
                ("POLICY_COUNT", COUNT.into()),
                ("POLICY_USER_TIMEOUT", USER_TIMEOUT.into()),
                ("POLICY_DEADLINE", DEADLINE.into()),
            ]
        }
    }

    #[test]
    fn the_counters_are_laid_out_as_policy_h_says() {
        assert_same_layout! {
            "policy.h", "keepalive_stats", Stats, [tuned, kept, rewritten, failed]
        }
    }

    #[test]
    fn a_policy_reads_back_as_its_config() {
        let c = Deadline::new(Duration::from_secs(5)).config().unwrap();
        let p = Policy::new(&c, true).unwrap();
        assert_eq!(
            (p.idle, p.interval, p.count, p.user_timeout_ms),
            (2, 1, 3, 5000)
        );
        assert_eq!(p.set, IDLE | INTERVAL | COUNT | USER_TIMEOUT);
        assert!(p.enforce());
        assert_eq!(p.config(), c);
        assert_eq!(p.deadline(), None);
        let kept = p.with_deadline(Duration::from_secs(5), 250);
        assert_eq!((kept.deadline_ms, kept.hz), (5000, 250));
        assert_eq!(kept.set, IDLE | INTERVAL | COUNT | USER_TIMEOUT | DEADLINE);
        assert_eq!(kept.deadline(), Some(Duration::from_secs(5)));
        assert_eq!(kept.config(), c);

        let only_idle = Config::new().idle(Duration::from_secs(600));
        let p = Policy::new(&only_idle, false).unwrap();
        assert_eq!(p.set, IDLE);
        assert_eq!(p.config(), only_idle);
        assert_eq!(
            Policy::new(&Config::new(), false).unwrap().config(),
            Config::new()
        );
    }

    #[test]
    fn the_core_checks_the_values() {
        let err = Policy::new(&Config::new().count(128), false).unwrap_err();
        assert_eq!(err.to_string(), "count must be 1..127 probes, got 128");
        assert!(err.is_usage());
        let err = Policy::new(&Config::new().idle(Duration::from_millis(1500)), false).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("idle must be a whole number of seconds"));
    }
}
