//! Liveness: what the kernel knows of the peer, and when it will give up.

use std::fmt;
use std::time::Duration;

use crate::rule::{
    busy_dead_in, retries_timeout, tail_loss_probe, zero_window_dead_in, ZeroWindow,
};
use crate::Settings;

/// A connection's liveness, read by [`status`](crate::status) from the
/// kernel (`TCP_INFO`) together with its [`Settings`].
///
/// ```
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let sock = std::net::TcpStream::connect(listener.local_addr()?)?;
/// keepalive::set_deadline(&sock, std::time::Duration::from_secs(60))?;
///
/// let st = keepalive::status(&sock)?;
/// assert_eq!(st.state, keepalive::TcpState::Established);
/// assert_eq!(st.phase, keepalive::Phase::Idle);
/// assert_eq!(st.probes_out, 0);
/// // Nothing heard for a moment: dead in just under a minute if that goes on.
/// let dead_in = st.dead_in.unwrap();
/// assert!(dead_in <= std::time::Duration::from_secs(60) && dead_in > std::time::Duration::from_secs(50));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The keepalive settings the prediction is made from.
    pub settings: Settings,
    /// The TCP state (`tcpi_state`).
    pub state: TcpState,
    /// Which of the kernel's timers governs now.
    pub phase: Phase,
    /// Time since the peer's last ACK (`tcpi_last_ack_recv`).
    pub last_ack: Duration,
    /// Time since data was last received (`tcpi_last_data_recv`).
    pub last_data: Duration,
    /// Keepalive (or zero-window) probes sent and unanswered (`tcpi_probes`).
    pub probes_out: u32,
    /// Segments sent and not yet acknowledged (`tcpi_unacked`).
    pub unacked: u32,
    /// Retransmissions of the oldest unacknowledged segment
    /// (`tcpi_retransmits`).
    pub retransmits: u32,
    /// Exponential backoff of the retransmission timer (`tcpi_backoff`).
    pub backoff: u32,
    /// The current retransmission timeout (`tcpi_rto`).
    pub rto: Duration,
    /// How long until the kernel declares the peer dead if nothing more is
    /// heard from it; `None` where no bound is in force (keepalive off on an
    /// idle connection) or the socket is not a connection (listening,
    /// connecting, closed).
    ///
    /// Idle or probing: the keepalive rule ([`Settings::dead_after`]) from
    /// the later of the last ACK and the last data received; exact on a
    /// regular probe schedule, a lower bound after keepalive was retuned on a
    /// connection that had long been silent. Busy: the user timeout counted
    /// from the first retransmission, as the kernel counts it (which comes
    /// one retransmission timeout after the oldest unacknowledged segment was
    /// sent, taken to be the peer's last ACK; so a busy connection dies about
    /// D + RTO after it); with no user timeout, `tcp_retries2`'s
    /// retransmissions (about 924.6 s with the default 15), at the earliest.
    /// A write after a silence counts from the write: the first
    /// retransmission comes one RTO after it, however long the peer had
    /// been silent. Zero window: the user timeout counted from the first
    /// zero-window probe, which the kernel enforces even while the peer
    /// answers every probe ([`Phase::ZeroWindow`]); without one,
    /// `tcp_retries2` probes unanswered in a row.
    pub dead_in: Option<Duration>,
}

impl Status {
    /// Time since the peer was last heard from: the later of its last ACK and
    /// its last data, the moment the keepalive timer counts from.
    pub fn silent_for(&self) -> Duration {
        self.last_ack.min(self.last_data)
    }
}

/// Which of the kernel's timers decides when the peer is declared dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Not a connection: listening, connecting, or closed.
    NotConnected,
    /// Nothing in flight, and keepalive off: no bound on the silence.
    Unwatched,
    /// Nothing in flight, no probe unanswered: the keepalive timer waits for
    /// `idle`.
    Idle,
    /// Keepalive probes are out and unanswered.
    Probing,
    /// Data sent and not yet acknowledged: the retransmission timer governs
    /// (keepalive does not probe a busy connection).
    Busy,
    /// Data waiting to be sent and the peer's receive window closed
    /// (`tcpi_snd_wnd` 0, `tcpi_notsent_bytes` above 0, nothing in flight):
    /// the zero-window probe timer governs. A live peer that stopped
    /// reading answers every probe, yet with a user timeout set Linux aborts
    /// the connection once that long has passed since the first probe
    /// (`tcp_probe_timer()`); without one it waits for `tcp_retries2`
    /// probes unanswered in a row. Known from Linux 5.4 (`tcpi_snd_wnd`).
    ZeroWindow,
}

impl Phase {
    /// A lower-case word for it: `"idle"`, `"probing"`, `"busy"`,
    /// `"zero-window"`, `"unwatched"`, `"not-connected"`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::NotConnected => "not-connected",
            Phase::Unwatched => "unwatched",
            Phase::Idle => "idle",
            Phase::Probing => "probing",
            Phase::Busy => "busy",
            Phase::ZeroWindow => "zero-window",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A TCP state, named as the kernel's `TCP_*` constants and `netstat` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TcpState {
    /// `ESTABLISHED`
    Established,
    /// `SYN_SENT`
    SynSent,
    /// `SYN_RECV`
    SynRecv,
    /// `FIN_WAIT1`
    FinWait1,
    /// `FIN_WAIT2`
    FinWait2,
    /// `TIME_WAIT`
    TimeWait,
    /// `CLOSE` (not connected, or closed)
    Close,
    /// `CLOSE_WAIT`: the peer closed its side.
    CloseWait,
    /// `LAST_ACK`
    LastAck,
    /// `LISTEN`
    Listen,
    /// `CLOSING`
    Closing,
    /// A state number this crate does not know.
    Other(u8),
}

impl TcpState {
    /// From the kernel's number (`tcpi_state`, `include/net/tcp_states.h`).
    pub fn from_kernel(n: u8) -> Self {
        match n {
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 => TcpState::SynRecv,
            4 => TcpState::FinWait1,
            5 => TcpState::FinWait2,
            6 => TcpState::TimeWait,
            7 => TcpState::Close,
            8 => TcpState::CloseWait,
            9 => TcpState::LastAck,
            10 => TcpState::Listen,
            11 => TcpState::Closing,
            other => TcpState::Other(other),
        }
    }

    /// The kernel's name without `TCP_`: `"ESTABLISHED"`, `"LISTEN"`, ...
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::Other(_) => "UNKNOWN",
        }
    }

    /// Whether the connection exists in both directions or half: the states
    /// in which a dead peer can be detected.
    pub(crate) fn is_connection(self) -> bool {
        matches!(
            self,
            TcpState::Established
                | TcpState::CloseWait
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::Closing
                | TcpState::LastAck
        )
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fields of `struct tcp_info` that liveness needs, in their units.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TcpInfo {
    pub(crate) state: u8,
    pub(crate) retransmits: u8,
    pub(crate) probes: u8,
    pub(crate) backoff: u8,
    pub(crate) rto_us: u32,
    pub(crate) unacked: u32,
    pub(crate) last_data_sent_ms: u32,
    pub(crate) last_data_recv_ms: u32,
    pub(crate) last_ack_recv_ms: u32,
    /// Smoothed round-trip time (`tcpi_rtt`).
    pub(crate) rtt_us: u32,
    /// Bytes written and not yet sent (`tcpi_notsent_bytes`); `None` where
    /// the kernel does not say (before 4.6).
    pub(crate) notsent_bytes: Option<u32>,
    /// The peer's receive window (`tcpi_snd_wnd`); `None` before 5.4.
    pub(crate) snd_wnd: Option<u32>,
}

impl TcpInfo {
    /// Data waiting behind a closed window, nothing in flight: the kernel
    /// probes the window.
    fn zero_window(&self) -> bool {
        self.unacked == 0 && self.snd_wnd == Some(0) && self.notsent_bytes.is_some_and(|n| n > 0)
    }
}

/// Puts the settings and `TCP_INFO` together by the kernel's rules.
/// `retries2` is asked for only when a busy connection has no user timeout.
pub(crate) fn assess(settings: Settings, info: &TcpInfo, retries2: impl FnOnce() -> u32) -> Status {
    let ms = |n: u32| Duration::from_millis(u64::from(n));
    let state = TcpState::from_kernel(info.state);
    let last_ack = ms(info.last_ack_recv_ms);
    let last_data = ms(info.last_data_recv_ms);
    let probes_out = u32::from(info.probes);
    let rto = Duration::from_micros(u64::from(info.rto_us));
    let rtt = Duration::from_micros(u64::from(info.rtt_us));
    // None: no user timeout set, the kernel's default applies.
    let user_timeout = settings.dead_after_busy();
    let phase = if !state.is_connection() {
        Phase::NotConnected
    } else if info.unacked > 0 {
        Phase::Busy
    } else if info.zero_window() {
        Phase::ZeroWindow
    } else if !settings.enabled {
        Phase::Unwatched
    } else if probes_out > 0 {
        Phase::Probing
    } else {
        Phase::Idle
    };
    let dead_in = match phase {
        Phase::NotConnected | Phase::Unwatched => None,
        Phase::Idle | Phase::Probing => Some(
            settings
                .timers()
                .idle_dead_in(last_ack.min(last_data), probes_out),
        ),
        Phase::Busy => Some(busy_dead_in(
            user_timeout.unwrap_or_else(|| retries_timeout(retries2())),
            rto,
            u32::from(info.retransmits),
            last_ack,
            ms(info.last_data_sent_ms),
            tail_loss_probe(info.unacked, rtt, rto),
        )),
        Phase::ZeroWindow => Some(zero_window_dead_in(&ZeroWindow {
            user_timeout,
            retries2: if user_timeout.is_some() {
                0
            } else {
                retries2()
            },
            rto,
            rtt,
            backoff: u32::from(info.backoff),
            probes_out,
            last_ack,
        })),
    };
    Status {
        settings,
        state,
        phase,
        last_ack,
        last_data,
        probes_out,
        unacked: info.unacked,
        retransmits: u32::from(info.retransmits),
        backoff: u32::from(info.backoff),
        rto,
        dead_in,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(enabled: bool, ut_ms: u64) -> Settings {
        Settings {
            enabled,
            idle: Duration::from_secs(2),
            interval: Duration::from_secs(1),
            count: 3,
            user_timeout: Duration::from_millis(ut_ms),
        }
    }

    fn info(state: u8, unacked: u32, probes: u8, ack_ms: u32, data_ms: u32) -> TcpInfo {
        TcpInfo {
            state,
            probes,
            unacked,
            last_ack_recv_ms: ack_ms,
            last_data_recv_ms: data_ms,
            ..TcpInfo::default()
        }
    }

    #[test]
    fn phases() {
        let no_retries = || panic!("retries2 read when not needed");
        let st = assess(settings(true, 0), &info(1, 0, 0, 500, 900), no_retries);
        assert_eq!(st.phase, Phase::Idle);
        // Counted from the later of the two: 500 ms ago.
        assert_eq!(st.dead_in, Some(Duration::from_millis(4500)));
        assert_eq!(st.silent_for(), Duration::from_millis(500));

        let st = assess(settings(true, 0), &info(1, 0, 2, 3500, 3500), no_retries);
        assert_eq!(st.phase, Phase::Probing);
        assert_eq!(st.dead_in, Some(Duration::from_millis(1500)));

        let st = assess(settings(false, 0), &info(1, 0, 0, 500, 500), no_retries);
        assert_eq!((st.phase, st.dead_in), (Phase::Unwatched, None));

        let st = assess(settings(true, 0), &info(10, 0, 0, 0, 0), no_retries);
        assert_eq!((st.phase, st.dead_in), (Phase::NotConnected, None));
        assert_eq!(st.state.name(), "LISTEN");
    }

    #[test]
    fn busy_counts_the_user_timeout_from_the_first_retransmission() {
        // Nothing retransmitted yet, RTO 400 ms: 5 s after the first
        // retransmission, due 400 ms after the last ACK (300 ms ago).
        let busy = TcpInfo {
            rto_us: 400_000,
            last_data_sent_ms: 10,
            ..info(1, 4, 0, 300, 9000)
        };
        let st = assess(settings(true, 5000), &busy, || 15);
        assert_eq!(st.phase, Phase::Busy);
        assert_eq!(st.dead_in, Some(Duration::from_millis(5100)));
        // Even with keepalive off: the user timeout bounds a busy connection.
        let st = assess(settings(false, 5000), &busy, || 15);
        assert_eq!(st.dead_in, Some(Duration::from_millis(5100)));
        // One segment written 100 ms ago after 9 s of silence: from the
        // write, after its tail loss probe (200 ms) and one RTO.
        let after_silence = TcpInfo {
            last_data_sent_ms: 100,
            ..info(1, 1, 0, 9000, 9000)
        };
        let st = assess(
            settings(true, 5000),
            &TcpInfo {
                rto_us: 400_000,
                ..after_silence
            },
            || 15,
        );
        assert_eq!(st.dead_in, Some(Duration::from_millis(5500)));
        // Two retransmissions, RTO now 1.6 s, the last 300 ms ago: the first
        // was 0.8 s before it.
        let rtx = TcpInfo {
            rto_us: 1_600_000,
            retransmits: 2,
            last_data_sent_ms: 300,
            ..info(1, 4, 0, 2500, 9000)
        };
        let st = assess(settings(true, 5000), &rtx, || 15);
        assert_eq!(st.dead_in, Some(Duration::from_millis(3900)));
    }

    #[test]
    fn busy_without_a_user_timeout_follows_tcp_retries2() {
        let rtx = |ack_ms| TcpInfo {
            rto_us: 200_000,
            retransmits: 1,
            last_data_sent_ms: 100,
            ..info(1, 4, 0, ack_ms, 0)
        };
        let st = assess(settings(true, 0), &rtx(4600), || 15);
        assert_eq!(st.dead_in, Some(Duration::from_millis(924_500)));
        let st = assess(settings(true, 0), &rtx(1000), || 8);
        assert_eq!(st.dead_in, Some(Duration::from_millis(102_100)));
    }

    #[test]
    fn a_closed_window_with_data_waiting_is_zero_window() {
        let closed = TcpInfo {
            rto_us: 200_000,
            backoff: 1,
            snd_wnd: Some(0),
            notsent_bytes: Some(65_536),
            ..info(1, 0, 0, 50, 9000)
        };
        let st = assess(settings(true, 3000), &closed, || panic!("not needed"));
        assert_eq!(st.phase, Phase::ZeroWindow);
        assert_eq!(st.phase.name(), "zero-window");
        // One probe, answered 50 ms ago: it was the first.
        assert_eq!(st.dead_in, Some(Duration::from_millis(2950)));
        // Keepalive off changes nothing: the probe timer is not keepalive's.
        let st = assess(settings(false, 3000), &closed, || 15);
        assert_eq!(st.phase, Phase::ZeroWindow);
        // Open window, or nothing waiting, or a kernel that does not say: not it.
        for other in [
            TcpInfo {
                snd_wnd: Some(4096),
                ..closed
            },
            TcpInfo {
                notsent_bytes: Some(0),
                ..closed
            },
            TcpInfo {
                snd_wnd: None,
                ..closed
            },
        ] {
            assert_eq!(
                assess(settings(true, 3000), &other, || 15).phase,
                Phase::Idle
            );
        }
    }

    #[test]
    fn state_names() {
        assert_eq!(TcpState::from_kernel(1).to_string(), "ESTABLISHED");
        assert_eq!(TcpState::from_kernel(8).name(), "CLOSE_WAIT");
        assert_eq!(TcpState::from_kernel(99), TcpState::Other(99));
    }
}
