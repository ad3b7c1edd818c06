//! The program's own keepalive `setsockopt` calls: `KEEPALIVE_ENFORCE`.
//!
//! A program that sets keepalive itself (curl sets 60 s idle and interval,
//! redis-cli 15 s) overrides what the library applied at `socket()`, and
//! with it the deadline. The library therefore also exports `setsockopt`:
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
//!   written: see [`crate::write_warning`]);
//! - unset: the program's value is passed, silently.
//!
//! In a secure-execution program (setuid, setgid, file capabilities) the
//! environment is ignored, so none of this happens. A call made before the
//! library's constructor ran (from another library's constructor) passes
//! unchanged. The path allocates nothing and takes no lock; `errno` is what
//! the real call left.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

use crate::env::{Enforce, Wanted};

/// The signature of `setsockopt(2)`.
type SetsockoptFn =
    unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, libc::socklen_t) -> c_int;

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
        let config = keepalive::Config {
            user_timeout: wanted.user_timeout,
            ..wanted.keepalive
        };
        let Ok(options) = keepalive::socket_options(&config) else {
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

/// `setsockopt()` as a program sees it with this library preloaded: see the
/// module's documentation. Returns what the real call returned, with its
/// `errno`.
///
/// # Safety
///
/// None beyond `setsockopt(2)`'s: `value` is read only as the real call
/// would read it (`len` bytes, of which an `int` when `len` says so).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: libc::socklen_t,
) -> c_int {
    let keepalive_level = level == libc::SOL_SOCKET || level == libc::IPPROTO_TCP;
    let rules = if keepalive_level {
        crate::rules()
    } else {
        None
    };
    let found = rules.and_then(|r| r.find(level, name).map(|f| (r.mode, f)));
    let int_len = std::mem::size_of::<c_int>() as libc::socklen_t;
    let wanted = found.filter(|(mode, _)| *mode != Enforce::Quiet);
    let Some((mode, (index, rule))) = wanted.filter(|_| !value.is_null() && len >= int_len) else {
        // SAFETY: the caller's arguments, unchanged.
        return unsafe { next(fd, level, name, value, len) };
    };
    if mode == Enforce::On {
        if !is_tcp_stream_keeping_errno(fd) {
            // SAFETY: as above.
            return unsafe { next(fd, level, name, value, len) };
        }
        let ours: c_int = rule.value;
        // SAFETY: a live int, passed with its size.
        return unsafe { next(fd, level, name, (&ours as *const c_int).cast(), int_len) };
    }
    // Enforce::Tell: the program's value passes whatever the socket is; the
    // socket's type is asked of the kernel only when there is something to
    // name (a successful call overriding a value not yet named), so the
    // other calls make no extra system call.
    // SAFETY: non-NULL with at least an int's bytes (checked above), which
    // is what the kernel reads of it for these options.
    let theirs = unsafe { value.cast::<c_int>().read_unaligned() };
    // SAFETY: as above.
    let rc = unsafe { next(fd, level, name, value, len) };
    if rc == 0 && overrides(&rule, theirs) && !told(index) && is_tcp_stream_keeping_errno(fd) {
        let saved = crate::errno();
        tell_once(index, &rule, theirs);
        crate::set_errno(saved);
    }
    rc
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
    crate::warn(format_args!(
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

/// [`is_tcp_stream`], leaving `errno` as it was.
fn is_tcp_stream_keeping_errno(fd: c_int) -> bool {
    let saved = crate::errno();
    let tcp = is_tcp_stream(fd);
    crate::set_errno(saved);
    tcp
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

/// The next `setsockopt` after ours, found once.
static NEXT: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

/// Calls the next `setsockopt` in the lookup order, or makes the system call
/// itself when there is none.
///
/// # Safety
///
/// `setsockopt(2)`'s.
unsafe fn next(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: libc::socklen_t,
) -> c_int {
    let mut p = NEXT.load(Ordering::Acquire);
    if p.is_null() {
        p = crate::next_symbol(b"setsockopt\0");
        if !p.is_null() {
            NEXT.store(p, Ordering::Release);
        }
    }
    if p.is_null() {
        // SAFETY: the setsockopt(2) system call with the caller's arguments.
        return (unsafe { libc::syscall(libc::SYS_setsockopt, fd, level, name, value, len) })
            as c_int;
    }
    // SAFETY: `p` is the address of a function named `setsockopt`, which has
    // setsockopt(2)'s signature; called with the caller's arguments.
    unsafe { std::mem::transmute::<*mut c_void, SetsockoptFn>(p)(fd, level, name, value, len) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn wanted(enabled: bool, enforce: Enforce) -> Wanted {
        Wanted {
            enabled,
            keepalive: keepalive::Config::from_secs(Some(2), Some(1), Some(3)).unwrap(),
            user_timeout: Some(Duration::from_millis(5000)),
            enforce,
        }
    }

    #[test]
    fn rules_are_the_cores_options() {
        let r = Rules::of(&wanted(true, Enforce::On));
        let list: Vec<_> = r
            .rules
            .iter()
            .flatten()
            .map(|r| (r.level, r.name, r.value))
            .collect();
        assert_eq!(
            list,
            [
                (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 5000),
                (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 2),
                (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 1),
                (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3),
                (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
            ]
        );
        assert_eq!(r.mode, Enforce::On);
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
            keepalive: keepalive::Config::from_secs(Some(60), None, None).unwrap(),
            user_timeout: None,
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

    /// The exported function itself (not exported under test): with the
    /// test process's rules (no KEEPALIVE_ENFORCE), calls pass unchanged,
    /// and a failing call keeps the kernel's errno.
    #[test]
    fn setsockopt_passes_calls_through() {
        use std::os::fd::AsRawFd;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let v: c_int = 61;
        let len = std::mem::size_of::<c_int>() as libc::socklen_t;
        let p = (&v as *const c_int).cast();
        // SAFETY: a live int with its size, a live descriptor.
        let rc =
            unsafe { setsockopt(l.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, p, len) };
        assert_eq!(rc, 0);
        let mut got: c_int = 0;
        let mut got_len = len;
        // SAFETY: live locals of the right size.
        unsafe {
            libc::getsockopt(
                l.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_KEEPIDLE,
                (&mut got as *mut c_int).cast(),
                &mut got_len,
            )
        };
        assert_eq!(got, 61);
        // SAFETY: as above, with a length too short: the kernel refuses it.
        let rc = unsafe { setsockopt(l.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, p, 2) };
        assert_eq!((rc, crate::errno()), (-1, libc::EINVAL));
        // SAFETY: a descriptor that is not open: EBADF, nothing read.
        let rc = unsafe { setsockopt(-1, libc::SOL_SOCKET, libc::SO_KEEPALIVE, p, len) };
        assert_eq!((rc, crate::errno()), (-1, libc::EBADF));
    }

    #[test]
    fn tcp_streams_are_told_apart() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        use std::os::fd::AsRawFd;
        assert!(is_tcp_stream(l.as_raw_fd()));
        assert!(!is_tcp_stream(u.as_raw_fd()));
        assert!(!is_tcp_stream(a.as_raw_fd()));
        assert!(!is_tcp_stream(-1));
    }
}
