//! The program's own keepalive `setsockopt` calls: `KEEPALIVE_ENFORCE`.
//!
//! A program that sets keepalive itself (curl sets 60 s idle and interval,
//! redis-cli 15 s) overrides what the library applied at `socket()`, and
//! with it the deadline. The library therefore also exports `setsockopt`
//! ([`crate::interpose::setsockopt`]), which asks [`verdict`] what to do:
//! every call goes to the next `setsockopt` unchanged, except a call on a
//! TCP socket (`SOCK_STREAM`, TCP or MPTCP) for an option the configuration
//! sets: `SO_KEEPALIVE` (unless `KEEPALIVE=off`), `TCP_KEEPIDLE`,
//! `TCP_KEEPINTVL`, `TCP_KEEPCNT`, `TCP_USER_TIMEOUT`. The options and
//! values are the core's ([`keepalive::socket_options`]), so they are the
//! ones `socket()` applied. Then, by `KEEPALIVE_ENFORCE` ([`Enforce`]):
//!
//! - `1`: the configured value is passed instead of the program's (the call
//!   succeeds as the kernel says for that value), as `keepalive cgroup
//!   attach --enforce` does;
//! - `0` (what `keepalive-run` passes without `--enforce`): the program's
//!   value is passed, and the first call that overrides each configured
//!   value is named on stderr, once per process (where a warning may be
//!   written: see [`crate::warning`]);
//! - unset: the program's value is passed, silently.
//!
//! In a secure-execution program (setuid, setgid, file capabilities) the
//! environment is ignored, so none of this happens. A call made before the
//! library's constructor ran (from another library's constructor) passes
//! unchanged. The path allocates nothing and takes no lock; `errno` is what
//! the real call left.

use std::ffi::c_int;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::env::{Enforce, Wanted};
use crate::interpose::Setsockopt;
use crate::settings;

/// One configured option: what `socket()` applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) level: c_int,
    pub(crate) name: c_int,
    pub(crate) value: c_int,
    pub(crate) label: &'static str,
}

/// The configured options and what to do with the program's own calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rules {
    pub(crate) rules: [Option<Rule>; 5],
    pub(crate) mode: Enforce,
}

impl Rules {
    /// Nothing configured: every call passes.
    pub(crate) const NONE: Rules = Rules {
        rules: [None; 5],
        mode: Enforce::Quiet,
    };

    /// The options `wanted` applies at `socket()`, as the core lists them.
    /// Allocates (the core's list): called once, by the constructor.
    pub(crate) fn of(wanted: &Wanted) -> Rules {
        let mut out = Rules {
            mode: wanted.enforce,
            ..Rules::NONE
        };
        let Ok(options) = keepalive::socket_options(&wanted.config) else {
            return out;
        };
        let user_timeout = |o: &keepalive::SocketOption| {
            o.level == libc::IPPROTO_TCP && o.name == libc::TCP_USER_TIMEOUT
        };
        // KEEPALIVE=off: keepalive is the program's; a user timeout is not
        // a keepalive option and still applies (as at socket()).
        let kept = options
            .iter()
            .filter(|o| wanted.enabled || user_timeout(o))
            .map(|o| Rule {
                level: o.level,
                name: o.name,
                value: o.value,
                label: o.label,
            });
        for (slot, rule) in out.rules.iter_mut().zip(kept) {
            *slot = Some(rule);
        }
        out
    }

    /// The configured option a call to (`level`, `name`) sets, and its index.
    pub(crate) fn find(&self, level: c_int, name: c_int) -> Option<(usize, Rule)> {
        self.rules.iter().enumerate().find_map(|(i, r)| {
            r.filter(|r| r.level == level && r.name == name)
                .map(|r| (i, r))
        })
    }
}

/// What the program's call for `rule` with `value` means against the
/// configured value: whether it overrides it (`SO_KEEPALIVE`: any non-zero
/// value is on).
pub(crate) fn overrides(rule: &Rule, value: c_int) -> bool {
    if rule.level == libc::SOL_SOCKET && rule.name == libc::SO_KEEPALIVE {
        (value != 0) != (rule.value != 0)
    } else {
        value != rule.value
    }
}

/// What becomes of one of the program's `setsockopt` calls.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The call as the program made it.
    Pass,
    /// The call with this value instead of the program's (`KEEPALIVE_ENFORCE=1`).
    Replace(c_int),
    /// The call as the program made it; then, if it succeeded, the
    /// configured value it overrides is named ([`Told::if_overridden`]).
    PassThenTell(Told),
}

/// What [`Verdict::PassThenTell`] may name: the configured option and the
/// program's value for it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Told {
    index: usize,
    rule: Rule,
    theirs: c_int,
}

/// What to do with `call`, by the published rules: a call for another
/// option, a call made before the constructor published them, or one
/// without an `int` value passes unchanged.
///
/// # Safety
///
/// `call`'s value points to its length's readable bytes (setsockopt(2)'s
/// contract); it is read only for a configured option under
/// `KEEPALIVE_ENFORCE`.
pub(crate) unsafe fn verdict(call: &Setsockopt) -> Verdict {
    let keepalive_level = call.level == libc::SOL_SOCKET || call.level == libc::IPPROTO_TCP;
    let rules = if keepalive_level {
        settings::rules()
    } else {
        None
    };
    // SAFETY: the caller's promise.
    unsafe { judge(rules, call) }
}

/// [`verdict`] by `rules` (`None`: not published yet).
///
/// # Safety
///
/// [`verdict`]'s.
unsafe fn judge(rules: Option<&Rules>, call: &Setsockopt) -> Verdict {
    // Unset KEEPALIVE_ENFORCE (the usual case) passes every call before
    // the configured options are searched.
    let Some(rules) = rules.filter(|r| r.mode != Enforce::Quiet) else {
        return Verdict::Pass;
    };
    let Some((index, rule)) = rules.find(call.level, call.name) else {
        return Verdict::Pass;
    };
    // SAFETY: the caller's promise.
    let Some(theirs) = (unsafe { call.int_value() }) else {
        return Verdict::Pass;
    };
    if rules.mode == Enforce::On {
        return if crate::errno::kept(|| is_tcp_stream(call.fd)) {
            Verdict::Replace(rule.value)
        } else {
            Verdict::Pass
        };
    }
    // Enforce::Tell: the program's value passes whatever the socket is; the
    // socket's type is asked of the kernel only when there is something to
    // name (a successful call overriding a value not yet named), so the
    // other calls make no extra system call.
    Verdict::PassThenTell(Told {
        index,
        rule,
        theirs,
    })
}

impl Told {
    /// Names the program's value on `fd` when it overrides the configured
    /// one, on a TCP stream, for the first time in this process. Leaves
    /// `errno` as it was (saved only when there is something to name).
    pub(crate) fn if_overridden(&self, fd: c_int) {
        if overrides(&self.rule, self.theirs) && !told(self.index) {
            crate::errno::kept(|| {
                if is_tcp_stream(fd) {
                    tell_once(self.index, &self.rule, self.theirs);
                }
            });
        }
    }
}

/// Options already named on stderr, one bit per rule index.
static TOLD: AtomicU8 = AtomicU8::new(0);

/// Whether the option at `index` was already named.
fn told(index: usize) -> bool {
    TOLD.load(Ordering::Relaxed) & (1u8 << index) != 0
}

/// Names the program's own call that overrides `rule`, once per option and
/// process; with cancellation disabled, since `write` is a cancellation
/// point and `setsockopt` is not.
fn tell_once(index: usize, rule: &Rule, theirs: c_int) {
    let bit = 1u8 << index;
    if TOLD.fetch_or(bit, Ordering::Relaxed) & bit != 0 {
        return;
    }
    let mut old = 0;
    // SAFETY: a live int for the previous state.
    unsafe { pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &mut old) };
    crate::warning::warn(format_args!(
        "the program set {}={theirs} itself, overriding the configured {} \
         (keepalive-run --enforce, KEEPALIVE_ENFORCE=1, keeps the configured values)",
        rule.label, rule.value
    ));
    // SAFETY: restores the state read above.
    unsafe { pthread_setcancelstate(old, std::ptr::null_mut()) };
}

/// glibc's value (`<pthread.h>`); the libc crate does not bind it.
const PTHREAD_CANCEL_DISABLE: c_int = 1;

extern "C" {
    /// POSIX; the libc crate does not bind it.
    fn pthread_setcancelstate(state: c_int, old: *mut c_int) -> c_int;
}

/// Whether `fd` is a TCP (or MPTCP) stream socket, asked of the kernel.
fn is_tcp_stream(fd: c_int) -> bool {
    let get = |opt| {
        let mut v: c_int = -1;
        let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
        // SAFETY: live locals of the right size.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&mut v as *mut c_int).cast(),
                &mut len,
            )
        };
        (rc == 0).then_some(v)
    };
    get(libc::SO_TYPE) == Some(libc::SOCK_STREAM)
        && matches!(get(libc::SO_PROTOCOL), Some(p) if p == libc::IPPROTO_TCP || p == libc::IPPROTO_MPTCP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{opt, raw};
    use std::os::fd::{AsFd, AsRawFd};
    use std::time::Duration;

    fn wanted(enabled: bool, enforce: Enforce) -> Wanted {
        Wanted {
            enabled,
            config: keepalive::Config::from_secs(Some(2), Some(1), Some(3))
                .unwrap()
                .user_timeout(Duration::from_millis(5000)),
            enforce,
        }
    }

    /// The rules are what `socket()` applied: on a socket given the same
    /// settings, every rule's option reads back as the rule's value, one
    /// rule per option (the core's list: the user timeout first).
    #[test]
    fn rules_are_what_socket_applies() {
        let w = wanted(true, Enforce::On);
        let r = Rules::of(&w);
        let sock = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        settings::apply(&sock.as_fd(), &w);
        assert_eq!(raw(&sock), (1, 2, 1, 3, 5000));
        let mut options = Vec::new();
        for rule in r.rules.iter().flatten() {
            assert_eq!(
                opt(&sock, rule.level, rule.name),
                rule.value,
                "{}",
                rule.label
            );
            options.push((rule.level, rule.name));
        }
        options.sort_unstable();
        options.dedup();
        assert_eq!(options.len(), 5, "SO_KEEPALIVE and the four TCP options");
        assert_eq!(r.mode, Enforce::On);
        assert_eq!(
            r.find(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT).unwrap().0,
            0
        );
        assert_eq!(r.find(libc::IPPROTO_TCP, libc::TCP_KEEPCNT).unwrap().0, 3);
        assert_eq!(r.find(libc::IPPROTO_TCP, libc::TCP_NODELAY), None);
        assert_eq!(r.find(libc::SOL_SOCKET, libc::SO_RCVBUF), None);
    }

    #[test]
    fn keepalive_off_leaves_only_the_user_timeout() {
        let r = Rules::of(&wanted(false, Enforce::On));
        let list: Vec<_> = r.rules.iter().flatten().map(|r| r.name).collect();
        assert_eq!(list, [libc::TCP_USER_TIMEOUT]);
    }

    #[test]
    fn an_unset_value_is_not_enforced() {
        let w = Wanted {
            config: keepalive::Config::from_secs(Some(60), None, None).unwrap(),
            ..wanted(true, Enforce::On)
        };
        let r = Rules::of(&w);
        assert!(r.find(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE).is_some());
        assert!(r.find(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL).is_none());
        assert!(r.find(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT).is_none());
        assert!(r.find(libc::SOL_SOCKET, libc::SO_KEEPALIVE).is_some());
    }

    #[test]
    fn what_overrides() {
        // The rules the core gives for keepalive on, idle 2 s.
        let r = Rules::of(&wanted(true, Enforce::On));
        let (_, on) = r.find(libc::SOL_SOCKET, libc::SO_KEEPALIVE).unwrap();
        let (_, idle) = r.find(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE).unwrap();
        assert_eq!((on.value, idle.value), (1, 2));
        assert!(!overrides(&on, 1));
        assert!(!overrides(&on, 7));
        assert!(overrides(&on, 0));
        assert!(!overrides(&idle, 2));
        assert!(overrides(&idle, 60));
    }

    /// What each kind of call becomes, by mode: only a configured option
    /// with an int value is touched, replaced on a TCP stream under `On`.
    #[test]
    fn verdicts() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let theirs: c_int = 60;
        let idle = |fd| Setsockopt::of_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, &theirs);
        let judged = |mode, call: &Setsockopt| {
            let rules = Rules::of(&wanted(true, mode));
            // SAFETY: calls made of live ints (or a NULL value).
            unsafe { judge(Some(&rules), call) }
        };
        let (tcp, udp) = (tcp.as_raw_fd(), udp.as_raw_fd());
        assert_eq!(judged(Enforce::On, &idle(tcp)), Verdict::Replace(2));
        assert_eq!(judged(Enforce::On, &idle(udp)), Verdict::Pass);
        assert_eq!(judged(Enforce::Quiet, &idle(tcp)), Verdict::Pass);
        let rule = Rules::of(&wanted(true, Enforce::Tell))
            .find(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE)
            .unwrap();
        assert_eq!(
            judged(Enforce::Tell, &idle(tcp)),
            Verdict::PassThenTell(Told {
                index: rule.0,
                rule: rule.1,
                theirs: 60
            })
        );
        let nodelay = Setsockopt::of_int(tcp, libc::IPPROTO_TCP, libc::TCP_NODELAY, &theirs);
        assert_eq!(judged(Enforce::On, &nodelay), Verdict::Pass);
        let null = Setsockopt::null(tcp, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE);
        assert_eq!(judged(Enforce::On, &null), Verdict::Pass);
        // SAFETY: as above.
        assert_eq!(unsafe { judge(None, &idle(tcp)) }, Verdict::Pass);
    }

    #[test]
    fn tcp_streams_are_told_apart() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(is_tcp_stream(l.as_raw_fd()));
        assert!(!is_tcp_stream(u.as_raw_fd()));
        assert!(!is_tcp_stream(a.as_raw_fd()));
        assert!(!is_tcp_stream(-1));
    }
}
