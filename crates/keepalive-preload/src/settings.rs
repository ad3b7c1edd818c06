//! The settings: what every new TCP socket gets, and what the program's own
//! keepalive `setsockopt` calls are held to ([`Rules`]). Read from the
//! environment ([`crate::env`]) once, when the library is loaded, and
//! published without a lock for `socket()` and `setsockopt()` to copy.

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU8, Ordering};

use keepalive::Config;

use crate::enforce::Rules;
use crate::env::{self, Wanted};

/// Applies `wanted` to `sock`. Errors are dropped: the program asked for a
/// socket, not for keepalive, and gets its socket whatever the kernel says.
/// The user timeout is a call of its own, so that a socket refusing it (an
/// MPTCP socket: `TCP_USER_TIMEOUT` gives `ENOPROTOOPT`) still gets keepalive.
///
/// With `KEEPALIVE=off` keepalive is left alone, while a user timeout
/// still applies: it is not a keepalive option.
pub(crate) fn apply(sock: &BorrowedFd<'_>, wanted: &Wanted) {
    let Config { user_timeout, .. } = wanted.config;
    if wanted.enabled {
        let keepalive = Config {
            user_timeout: None,
            ..wanted.config
        };
        let _ = keepalive::set(sock, &keepalive);
    }
    if let Some(timeout) = user_timeout {
        let _ = keepalive::set_user_timeout(sock, timeout);
    }
}

const UNREAD: u8 = 0;
const READING: u8 = 1;
const READY: u8 = 2;

/// Where the settings are: `UNREAD`, `READING` (the constructor is reading
/// the environment), `READY` (`SETTINGS` is written and never changes again).
static STATE: AtomicU8 = AtomicU8::new(UNREAD);

/// The settings, written once by the caller that moved `STATE` from
/// `UNREAD` to `READING`, read only after `STATE` is `READY`.
static SETTINGS: Slot<Wanted> = Slot(UnsafeCell::new(MaybeUninit::uninit()));

/// What to do with the program's own keepalive `setsockopt` calls
/// ([`crate::enforce`]), written and published with `SETTINGS`.
static RULES: Slot<Rules> = Slot(UnsafeCell::new(MaybeUninit::uninit()));

struct Slot<T>(UnsafeCell<MaybeUninit<T>>);

// SAFETY: written once before `STATE` is set to `READY` with Release, read
// only after `STATE` is seen `READY` with Acquire.
unsafe impl<T: Sync> Sync for Slot<T> {}

/// Reads the environment once per process, reporting each invalid value
/// through `warn`, and publishes the result. A second call does nothing.
pub(crate) fn load(warn: impl FnMut(fmt::Arguments<'_>)) {
    if STATE
        .compare_exchange(UNREAD, READING, Ordering::Acquire, Ordering::Acquire)
        .is_ok()
    {
        let wanted = env::read(warn);
        let rules = Rules::of(&wanted);
        // SAFETY: only the caller that won the exchange writes, once, and
        // nobody reads before `READY` is published below.
        unsafe {
            (*SETTINGS.0.get()).write(wanted);
            (*RULES.0.get()).write(rules);
        }
        STATE.store(READY, Ordering::Release);
    }
}

/// What the environment asks for: a copy of what the constructor read. A
/// `socket()` made before the constructor ran (from another library's
/// constructor) reads the environment itself, silently: warning is the
/// constructor's job, and `socket()` never writes.
pub(crate) fn wanted() -> Wanted {
    if STATE.load(Ordering::Acquire) == READY {
        // SAFETY: `READY` (seen with Acquire) means `SETTINGS` was written.
        unsafe { (*SETTINGS.0.get()).assume_init_read() }
    } else {
        env::read(|_| {})
    }
}

/// The rules for the program's own `setsockopt` calls, once the constructor
/// published them; `None` before.
pub(crate) fn rules() -> Option<&'static Rules> {
    if STATE.load(Ordering::Acquire) == READY {
        // SAFETY: `READY` (seen with Acquire) means `RULES` was written, and
        // it never changes again.
        Some(unsafe { (*RULES.0.get()).assume_init_ref() })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{full, opt, raw, FULL};
    use std::net::UdpSocket;
    use std::os::fd::{AsFd, FromRawFd, OwnedFd};

    fn new_socket(domain: libc::c_int, ty: libc::c_int) -> OwnedFd {
        // SAFETY: plain socket(2); the descriptor is owned by the result.
        let fd = unsafe { libc::socket(domain, ty, 0) };
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        // SAFETY: a fresh descriptor nobody else owns.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    #[test]
    fn apply_sets_every_value_on_a_tcp_socket() {
        let sock = new_socket(libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_NONBLOCK);
        apply(&sock.as_fd(), &full());
        assert_eq!(raw(&sock), FULL);
    }

    #[test]
    fn apply_with_keepalive_off_leaves_keepalive_alone() {
        let sock = new_socket(libc::AF_INET, libc::SOCK_STREAM);
        let before = raw(&sock);
        let mut off = Wanted {
            enabled: false,
            ..full()
        };
        off.config.user_timeout = None;
        apply(&sock.as_fd(), &off);
        assert_eq!(raw(&sock), before);
        assert_eq!(before.0, 0);

        // The user timeout is not a keepalive option: it still applies.
        apply(
            &sock.as_fd(),
            &Wanted {
                enabled: false,
                ..full()
            },
        );
        let after = raw(&sock);
        assert_eq!(
            (after.0, after.1, after.2, after.3),
            (0, before.1, before.2, before.3)
        );
        assert_eq!(after.4, 7000);
    }

    /// An MPTCP socket takes keepalive, while its `TCP_USER_TIMEOUT` is
    /// refused (get: EOPNOTSUPP, set: ENOPROTOOPT): keepalive still applies.
    #[test]
    fn apply_sets_keepalive_on_an_mptcp_socket() {
        for domain in [libc::AF_INET, libc::AF_INET6] {
            // SAFETY: plain socket(2); the descriptor is owned below.
            let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM, libc::IPPROTO_MPTCP) };
            if fd < 0 {
                let e = std::io::Error::last_os_error();
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EPROTONOSUPPORT | libc::EINVAL | libc::ENOPROTOOPT)
                ) {
                    eprintln!("skipped: this kernel has no MPTCP ({e})");
                    return;
                }
                panic!("socket(IPPROTO_MPTCP): {e}");
            }
            // SAFETY: a fresh descriptor nobody else owns.
            let sock = unsafe { OwnedFd::from_raw_fd(fd) };
            apply(&sock.as_fd(), &full());
            let (on, idle, intvl, cnt, _) = raw(&sock);
            assert_eq!((on, idle, intvl, cnt), (1, 60, 10, 5), "domain {domain}");
        }
    }

    #[test]
    fn apply_on_udp_changes_nothing_and_does_not_panic() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        apply(&udp.as_fd(), &full());
        assert_eq!(opt(&udp, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
    }

    #[test]
    fn settings_are_read_at_load_and_then_copied() {
        // The constructor ran before any test did.
        assert_eq!(STATE.load(Ordering::Acquire), READY);
        let first = wanted();
        let mut warned = 0;
        load(|_| warned += 1);
        assert_eq!(warned, 0, "a second load reads nothing");
        assert_eq!(wanted(), first);
    }
}
