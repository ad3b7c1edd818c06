//! The connections that already exist when a policy is attached: sock_ops
//! only sees connections as they are established, so these are retuned
//! from here, through the same core call as `keepalive set`: for every
//! process of the cgroup (and of the cgroups below it), `pidfd_open` +
//! `pidfd_getfd` give this process a duplicate of each TCP socket, and
//! `keepalive::set` applies the policy to it.
//!
//! This is a small self-contained copy of what the operator's tool does for
//! `keepalive set` (crates/keepalive-tool's target.rs); the two should
//! become one once both are merged.
//!
//! The rule is the sock_ops program's, as far as userspace can see it:
//! without `enforce`, a value the program chose itself is kept. The kernel
//! does not tell userspace whether a value was set, only its effect, so a
//! value counts as the program's own when it differs both from this network
//! namespace's default and from the previous policy of this cgroup (a
//! re-attach retunes what the old policy set).

use std::collections::HashSet;
use std::fs;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use keepalive::{Config, Settings, TcpState};

use crate::system::Cgroup;

/// What retuning the existing connections did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Existing {
    /// How: `"pidfd_getfd"` (the descriptors of the cgroup's processes).
    pub method: &'static str,
    /// Processes looked at.
    pub processes: usize,
    /// Connections given the policy (all of it, or the values that were
    /// not their own).
    pub retuned: usize,
    /// Connections that kept every value the policy sets as their own
    /// (without `enforce`).
    pub kept: usize,
    /// What could not be done, one sentence each (a process that exited,
    /// a socket the kernel refused).
    pub problems: Vec<String>,
}

/// Which of `policy`'s values to apply to a connection whose settings are
/// `current`: all of them with `enforce`; otherwise those the connection
/// has not chosen itself. `defaults` are the system's (every field set).
pub(crate) fn plan(
    current: &Settings,
    defaults: &Config,
    previous: Option<&Config>,
    policy: &Config,
    enforce: bool,
) -> Config {
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
    Config {
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
    }
}

fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: a plain system call; the result is a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn pidfd_getfd(pidfd: &OwnedFd, fd: i32) -> std::io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain system call; the result is a new descriptor or -1.
    let new = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if new < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(new as RawFd) })
}

/// The descriptors of `pid` that are sockets.
fn socket_fds(pid: i32) -> std::io::Result<Vec<i32>> {
    let mut fds = Vec::new();
    for entry in fs::read_dir(format!("/proc/{pid}/fd"))? {
        let entry = entry?;
        let is_socket = fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if let (true, Ok(fd)) = (is_socket, entry.file_name().to_string_lossy().parse()) {
            fds.push(fd);
        }
    }
    Ok(fds)
}

/// Applies the policy to every connected TCP socket of the cgroup's
/// processes (listeners pass it on by sock_ops to what they accept).
pub(crate) fn retune(
    cgroup: &Cgroup,
    policy: &Config,
    previous: Option<&Config>,
    enforce: bool,
) -> Existing {
    let mut done = Existing {
        method: "pidfd_getfd",
        ..Existing::default()
    };
    let defaults = keepalive::system_defaults().unwrap_or_default();
    let me = std::process::id() as i32;
    let mut seen = HashSet::new();
    for pid in cgroup.processes() {
        if pid == me {
            continue;
        }
        done.processes += 1;
        let (pidfd, fds) = match pidfd_open(pid).and_then(|p| Ok((p, socket_fds(pid)?))) {
            Ok(x) => x,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue, // exited
            Err(e) => {
                done.problems
                    .push(format!("pid {pid}: {}", crate::error_text(&e)));
                continue;
            }
        };
        for fd in fds {
            let Ok(sock) = pidfd_getfd(&pidfd, fd) else {
                continue; // closed meanwhile
            };
            let Ok(status) = keepalive::status(&sock) else {
                continue; // not TCP
            };
            if matches!(status.state, TcpState::Listen | TcpState::Close) {
                continue;
            }
            // The same socket in two processes (fork) or under two numbers
            // (dup) is done once.
            let inode = fs::metadata(format!("/proc/{pid}/fd/{fd}")).map(|m| m.ino());
            if inode.is_ok_and(|ino| !seen.insert(ino)) {
                continue;
            }
            let Ok(current) = keepalive::get(&sock) else {
                continue;
            };
            let apply = plan(&current, &defaults, previous, policy, enforce);
            if apply == Config::new() && current.enabled && *policy != Config::new() {
                done.kept += 1;
                continue;
            }
            match keepalive::set(&sock, &apply) {
                Ok(()) => done.retuned += 1,
                Err(e) => done.problems.push(format!("pid {pid} fd {fd}: {e}")),
            }
        }
    }
    done
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
        assert_eq!(p, deadline5());
    }

    #[test]
    fn a_program_s_own_values_are_kept_unless_enforced() {
        // Go's dialer: 15 s idle and interval of its own.
        let go = settings(15, 15, 9, 0);
        let p = plan(&go, &defaults(), None, &deadline5(), false);
        assert_eq!(p.idle, None);
        assert_eq!(p.interval, None);
        assert_eq!(p.count, Some(3));
        assert_eq!(p.user_timeout, Some(Duration::from_millis(5000)));
        assert_eq!(
            plan(&go, &defaults(), None, &deadline5(), true),
            deadline5()
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
        assert_eq!(p, new);
    }
}
