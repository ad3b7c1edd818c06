//! The connections that already exist when a policy is attached: sock_ops
//! only sees connections as they are established, so those are the
//! caller's to retune (the operator's tool takes each socket of
//! [`processes`](crate::processes) with `pidfd_getfd`, as `keepalive set`
//! does). What each of them gets is decided here, by [`plan`], the
//! userspace mirror of the sock_ops program's rule.

use std::time::Duration;

use keepalive::{Config, Settings};

/// Which of `policy`'s values an existing connection whose settings are
/// `current` gets, as the sock_ops program decides it for a new one:
/// `None` when it keeps its own keepalive and nothing is to be set.
///
/// With `enforce`, every value of the policy. Without, the values the
/// connection has not chosen itself. The kernel does not tell userspace
/// whether a value was set, only its effect, so a value counts as the
/// program's own when it differs both from `defaults` (this network
/// namespace's, [`keepalive::system_defaults`], every field set) and from
/// `previous`, the policy this one replaced ([`AttachReport::replaced`]): a
/// re-attach retunes what the old policy set. A user timeout counts as its
/// own when it is not zero (the kernel's default) nor the previous policy's.
///
/// Keepalive itself is always turned on, so a connection whose keepalive is
/// off gets `Some`, an empty [`Config`] at least; so does every connection
/// when the policy sets no value.
///
/// ```
/// use std::time::Duration;
/// use keepalive::{Config, Deadline, Settings};
/// let secs = Duration::from_secs;
/// let defaults = Config::new().idle(secs(7200)).interval(secs(75)).count(9);
/// let policy = Deadline::new(secs(5)).config()?;
/// // Go's dialer: 15 s idle and interval of its own, kept.
/// let go = Settings::new(true, secs(15), secs(15), 9, Duration::ZERO);
/// let apply = keepalive_bpf::plan(&go, &defaults, None, &policy, false).unwrap();
/// assert_eq!((apply.idle, apply.interval, apply.count), (None, None, Some(3)));
/// // With enforce, the whole policy.
/// assert_eq!(keepalive_bpf::plan(&go, &defaults, None, &policy, true), Some(policy));
/// # Ok::<(), keepalive::Error>(())
/// ```
///
/// [`AttachReport::replaced`]: crate::AttachReport::replaced
pub fn plan(
    current: &Settings,
    defaults: &Config,
    previous: Option<&Config>,
    policy: &Config,
    enforce: bool,
) -> Option<Config> {
    fn pick<T: PartialEq + Copy>(
        want: Option<T>,
        now: T,
        default: Option<T>,
        previous: Option<T>,
        enforce: bool,
    ) -> Option<T> {
        let own = Some(now) != default && Some(now) != previous;
        want.filter(|_| enforce || !own)
    }
    let prev = previous.copied().unwrap_or_default();
    let apply = Config {
        idle: pick(policy.idle, current.idle, defaults.idle, prev.idle, enforce),
        interval: pick(
            policy.interval,
            current.interval,
            defaults.interval,
            prev.interval,
            enforce,
        ),
        count: pick(
            policy.count,
            current.count,
            defaults.count,
            prev.count,
            enforce,
        ),
        user_timeout: pick(
            policy.user_timeout,
            current.user_timeout,
            Some(Duration::ZERO),
            prev.user_timeout,
            enforce,
        ),
    };
    let keeps_its_own = apply == Config::new() && current.enabled && *policy != Config::new();
    (!keeps_its_own).then_some(apply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn defaults() -> Config {
        Config::new().idle(secs(7200)).interval(secs(75)).count(9)
    }

    fn settings(idle: u64, interval: u64, count: u32, ut_ms: u64) -> Settings {
        Settings::new(
            true,
            secs(idle),
            secs(interval),
            count,
            Duration::from_millis(ut_ms),
        )
    }

    fn deadline5() -> Config {
        keepalive::Deadline::new(secs(5)).config().unwrap()
    }

    #[test]
    fn untouched_connections_get_the_whole_policy() {
        let p = plan(
            &settings(7200, 75, 9, 0),
            &defaults(),
            None,
            &deadline5(),
            false,
        );
        assert_eq!(p, Some(deadline5()));
    }

    #[test]
    fn a_program_s_own_values_are_kept_unless_enforced() {
        // Go's dialer: 15 s idle and interval of its own.
        let go = settings(15, 15, 9, 0);
        let p = plan(&go, &defaults(), None, &deadline5(), false).unwrap();
        assert_eq!(p.idle, None);
        assert_eq!(p.interval, None);
        assert_eq!(p.count, Some(3));
        assert_eq!(p.user_timeout, Some(Duration::from_millis(5000)));
        assert_eq!(
            plan(&go, &defaults(), None, &deadline5(), true),
            Some(deadline5())
        );
    }

    #[test]
    fn a_connection_with_every_value_its_own_keeps_them() {
        let own = settings(600, 20, 4, 7000);
        assert_eq!(plan(&own, &defaults(), None, &deadline5(), false), None);
        assert_eq!(
            plan(&own, &defaults(), None, &deadline5(), true),
            Some(deadline5())
        );
        // Keepalive off: turned on, with none of its values changed.
        let off = Settings::new(false, secs(600), secs(20), 4, Duration::from_millis(7000));
        assert_eq!(
            plan(&off, &defaults(), None, &deadline5(), false),
            Some(Config::new())
        );
        // A policy of no values only turns keepalive on.
        assert_eq!(
            plan(&own, &defaults(), None, &Config::new(), false),
            Some(Config::new())
        );
    }

    #[test]
    fn a_reattach_retunes_what_the_old_policy_set() {
        let old = deadline5();
        let new = keepalive::Deadline::new(secs(60)).config().unwrap();
        let p = plan(
            &settings(2, 1, 3, 5000),
            &defaults(),
            Some(&old),
            &new,
            false,
        );
        assert_eq!(p, Some(new));
    }
}
