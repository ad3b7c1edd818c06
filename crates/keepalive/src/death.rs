//! Why the kernel gave up on a connection: the rule that tells the causes
//! apart from the connection's state at the moment it ends, for
//! `keepalive watch` (whose BPF program reads that state in
//! `tcp_done_with_error()` and hands it over as an [`Ending`]).
//!
//! Linux ends a connection it gives up on in `tcp_done_with_error(sk, err)`:
//! it sets the socket's error, purges the send queue and closes it. What the
//! purge leaves says which timer fired (`net/ipv4/tcp_timer.c`):
//!
//! - `tcp_reset()` passes `ECONNRESET` (`EPIPE` in `CLOSE_WAIT`): the peer
//!   reset the connection.
//! - `tcp_write_err()` passes `ETIMEDOUT` (or the last soft error, such as
//!   `EHOSTUNREACH` from an ICMP message) from three timers:
//!   - the retransmission timer, which gives up only after it retransmitted
//!     (`icsk_retransmits > 0`; an ACK that moves `snd_una` resets it): data
//!     was in flight. `TCP_USER_TIMEOUT` when one is set (it then replaces
//!     `tcp_retries2`), else `tcp_retries2`'s retransmissions; when the peer
//!     had shrunk its window to zero (`snd_wnd == 0`) those retransmissions
//!     were window probes;
//!   - the window-probe timer (`icsk_probes_tstamp` set when it first fires,
//!     cleared when the window opens): nothing in flight, data waiting
//!     behind a zero window, probed past `TCP_USER_TIMEOUT` (or
//!     `tcp_retries2` probes);
//!   - the keepalive timer, which runs only with nothing in flight and
//!     nothing waiting: probes unanswered.
//! - Anything else (`ECONNABORTED` from `ss -K` or `tcp_abort()`, an ICMP
//!   error while connecting) is not a dead peer, nor is an ending outside an
//!   established connection (a refused or timed-out `connect`).

use std::fmt;
use std::time::Duration;

use crate::TcpState;

/// The rule that declared a connection dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cause {
    /// Keepalive probes went unanswered (idle connection, silent peer).
    Keepalive,
    /// Data stayed unacknowledged for `TCP_USER_TIMEOUT`.
    UserTimeout,
    /// Data stayed unacknowledged through `tcp_retries2` retransmissions (no
    /// user timeout set).
    Retransmissions,
    /// The peer's receive window stayed closed (it does not read) while it
    /// was probed, past the user timeout or `tcp_retries2` probes.
    ZeroWindow,
    /// The peer sent a reset (it rebooted, or its program aborted).
    Reset,
}

impl Cause {
    /// Every cause, in the order of [`Cause::name`]'s documentation.
    pub const ALL: [Cause; 5] = [
        Cause::Keepalive,
        Cause::UserTimeout,
        Cause::Retransmissions,
        Cause::ZeroWindow,
        Cause::Reset,
    ];

    /// The word for it: `"keepalive"`, `"user-timeout"`,
    /// `"retransmissions"`, `"zero-window"`, `"reset"`.
    pub fn name(self) -> &'static str {
        match self {
            Cause::Keepalive => "keepalive",
            Cause::UserTimeout => "user-timeout",
            Cause::Retransmissions => "retransmissions",
            Cause::ZeroWindow => "zero-window",
            Cause::Reset => "reset",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A connection's state as the kernel closes it with an error (what
/// `tcp_done_with_error()` leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending {
    /// The error the kernel gives the connection (a positive errno).
    pub error: i32,
    /// The TCP state it was closed from.
    pub state: TcpState,
    /// Retransmissions of the oldest unacknowledged segment
    /// (`icsk_retransmits`).
    pub retransmits: u32,
    /// A zero window was being probed (`icsk_probes_tstamp` set).
    pub window_probing: bool,
    /// The peer's receive window (`tp->snd_wnd`, bytes).
    pub send_window: u32,
    /// `TCP_USER_TIMEOUT` (zero: none).
    pub user_timeout: Duration,
    /// The socket was closed by its program already (an orphan).
    pub orphan: bool,
}

impl Ending {
    /// Which rule ended the connection; `None` when it was not the kernel
    /// giving up on a peer (see the module's documentation).
    ///
    /// ```
    /// use keepalive::{Cause, Ending, TcpState};
    /// use std::time::Duration;
    /// let idle = Ending {
    ///     error: libc::ETIMEDOUT,
    ///     state: TcpState::Established,
    ///     retransmits: 0,
    ///     window_probing: false,
    ///     send_window: 65535,
    ///     user_timeout: Duration::from_secs(5),
    ///     orphan: false,
    /// };
    /// assert_eq!(idle.cause(), Some(Cause::Keepalive));
    /// let busy = Ending { retransmits: 3, ..idle };
    /// assert_eq!(busy.cause(), Some(Cause::UserTimeout));
    /// let reset = Ending { error: libc::ECONNRESET, ..busy };
    /// assert_eq!(reset.cause(), Some(Cause::Reset));
    /// ```
    pub fn cause(&self) -> Option<Cause> {
        if !self.state.is_connection() {
            return None;
        }
        match self.error {
            libc::ECONNRESET | libc::EPIPE => return Some(Cause::Reset),
            libc::ECONNABORTED => return None,
            _ => {}
        }
        let window_closed = self.send_window == 0 && !self.orphan;
        Some(if self.retransmits > 0 {
            if window_closed {
                Cause::ZeroWindow
            } else if self.user_timeout.is_zero() {
                Cause::Retransmissions
            } else {
                Cause::UserTimeout
            }
        } else if self.window_probing {
            Cause::ZeroWindow
        } else {
            Cause::Keepalive
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle() -> Ending {
        Ending {
            error: libc::ETIMEDOUT,
            state: TcpState::Established,
            retransmits: 0,
            window_probing: false,
            send_window: 65535,
            user_timeout: Duration::ZERO,
            orphan: false,
        }
    }

    #[test]
    fn each_timer_is_told_apart() {
        assert_eq!(idle().cause(), Some(Cause::Keepalive));
        let ut = Duration::from_millis(5000);
        let with_ut = Ending {
            user_timeout: ut,
            ..idle()
        };
        // A set user timeout ends an idle connection too: still keepalive's probes.
        assert_eq!(with_ut.cause(), Some(Cause::Keepalive));
        let busy = Ending {
            retransmits: 2,
            ..idle()
        };
        assert_eq!(busy.cause(), Some(Cause::Retransmissions));
        assert_eq!(
            Ending {
                user_timeout: ut,
                ..busy
            }
            .cause(),
            Some(Cause::UserTimeout)
        );
        let stalled = Ending {
            window_probing: true,
            send_window: 0,
            user_timeout: ut,
            ..idle()
        };
        assert_eq!(stalled.cause(), Some(Cause::ZeroWindow));
        // The window shrank to zero under data in flight: retransmissions are
        // window probes then.
        let shrunk = Ending {
            retransmits: 1,
            send_window: 0,
            ..with_ut
        };
        assert_eq!(shrunk.cause(), Some(Cause::ZeroWindow));
        // An orphan's zero window is timed out as retransmissions.
        assert_eq!(
            Ending {
                orphan: true,
                ..shrunk
            }
            .cause(),
            Some(Cause::UserTimeout)
        );
    }

    #[test]
    fn a_soft_error_does_not_hide_the_timer() {
        let e = Ending {
            error: libc::EHOSTUNREACH,
            retransmits: 1,
            ..idle()
        };
        assert_eq!(e.cause(), Some(Cause::Retransmissions));
    }

    #[test]
    fn resets_and_what_is_not_a_dead_peer() {
        for error in [libc::ECONNRESET, libc::EPIPE] {
            let e = Ending {
                error,
                retransmits: 4,
                ..idle()
            };
            assert_eq!(e.cause(), Some(Cause::Reset));
        }
        let killed = Ending {
            error: libc::ECONNABORTED,
            ..idle()
        };
        assert_eq!(killed.cause(), None);
        let refused = Ending {
            error: libc::ECONNREFUSED,
            state: TcpState::SynSent,
            ..idle()
        };
        assert_eq!(refused.cause(), None);
        let closing = Ending {
            state: TcpState::FinWait1,
            retransmits: 1,
            orphan: true,
            ..idle()
        };
        assert_eq!(closing.cause(), Some(Cause::Retransmissions));
    }

    #[test]
    fn names() {
        let names: Vec<_> = Cause::ALL.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            names,
            [
                "keepalive",
                "user-timeout",
                "retransmissions",
                "zero-window",
                "reset"
            ]
        );
    }
}
