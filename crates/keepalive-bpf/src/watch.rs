//! Every TCP connection the kernel gives up on, as it happens: what
//! `keepalive watch` shows.
//!
//! [`Watch::start`] loads bpf/watch.bpf.c on the tracepoint
//! `sock:inet_sock_set_state` (host-wide: every network namespace) and
//! reads what it reports from a ring buffer: for each connection closed with
//! an error, its state at that moment, raw. This module only translates it:
//! which rule ended the connection is the core's
//! ([`keepalive::Ending::cause`]); the silence is the kernel's jiffies
//! converted with the kernel's HZ (measured: src/hz.rs).
//!
//! Nothing is pinned: the program and its maps live as long as the
//! [`Watch`], and are gone when it is dropped (or the process killed).
//! Needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN), and a kernel with BTF.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, SystemTime};

use aya::maps::{MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, ProgramError};
use aya::{Btf, Ebpf, EbpfLoader};
use keepalive::{Cause, Ending, TcpState};

use crate::programs::{self, aya_error};
use crate::{hz, system, Error};

/// How often a reader should look at the ring buffer ([`Watch::next`]) when
/// it is not woken: the program wakes it only once a quarter of the buffer
/// waits (waking it for every death would cost each about 5 µs), so this is
/// how late a lone death may be read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The tracepoint the program is attached to, and the program's name.
const TRACEPOINT: &str = "inet_sock_set_state";
const FUNCTION: &str = "watch_state";

/// How the owning process was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Owner {
    /// Not recorded: the connection was made before the watch started (or
    /// accepted by a listener made before it, or by one of more than 16,384
    /// listeners).
    Unknown,
    /// The process that called `connect()`.
    Connect,
    /// The process that called `listen()` on the socket that accepted the
    /// connection (a server that hands connections to other processes shows
    /// the listener's).
    Listener,
}

impl Owner {
    /// `"unknown"`, `"connect"`, `"listener"`.
    pub fn name(self) -> &'static str {
        match self {
            Owner::Unknown => "unknown",
            Owner::Connect => "connect",
            Owner::Listener => "listener",
        }
    }
}

/// One connection the kernel gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Death {
    /// When, by the system clock.
    pub time: SystemTime,
    /// The owning process, and how it was found.
    pub pid: Option<u32>,
    /// Its command name (`comm`, up to 15 bytes, as the kernel keeps it:
    /// any bytes but NUL).
    pub command: Option<Vec<u8>>,
    /// How [`Death::pid`] was found.
    pub owner: Owner,
    /// The local address.
    pub local: SocketAddr,
    /// The peer's address.
    pub remote: SocketAddr,
    /// The rule that ended it.
    pub cause: Cause,
    /// How long the peer had been silent: since its last ACK (`rcv_tstamp`),
    /// to within a jiffy (1000 / HZ ms).
    pub silent: Duration,
    /// For a zero window: how long it had been probed.
    pub window_probed: Option<Duration>,
    /// The state it was closed from.
    pub state: TcpState,
    /// The error the program gets (errno: `ETIMEDOUT`, `ECONNRESET`, ...).
    pub error: i32,
    /// Its `TCP_USER_TIMEOUT` (zero: none).
    pub user_timeout: Duration,
    /// Keepalive or window probes unanswered.
    pub probes_out: u32,
    /// Retransmissions of the oldest unacknowledged segment.
    pub retransmits: u32,
    /// Its program had closed it already.
    pub orphan: bool,
    /// The network namespace's inode number (`ip netns identify`,
    /// `/proc/PID/ns/net`).
    pub netns: u32,
    /// The socket's inode (`socket:[INODE]` in `/proc/PID/fd`); 0 for an
    /// orphan.
    pub inode: u64,
}

/// `struct keepalive_death` (bpf/watch.h).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RawDeath {
    time_ns: u64,
    jiffies: u64,
    inode: u64,
    netns: u32,
    pid: u32,
    rcv_tstamp: u32,
    probes_tstamp: u32,
    user_timeout_ms: u32,
    snd_wnd: u32,
    pad32: u32,
    error: i32,
    family: u16,
    local_port: u16,
    remote_port: u16,
    state: u8,
    probes_out: u8,
    retransmits: u8,
    orphan: u8,
    owner: u8,
    pad: u8,
    local_addr: [u8; 16],
    remote_addr: [u8; 16],
    comm: [u8; 16],
}

const AF_INET6: u16 = 10;
const OWNER_CONNECT: u8 = 1;
const OWNER_LISTENER: u8 = 2;

impl RawDeath {
    /// From the ring buffer's bytes; `None` when they are too short.
    fn from_bytes(bytes: &[u8]) -> Option<RawDeath> {
        if bytes.len() < std::mem::size_of::<RawDeath>() {
            return None;
        }
        // SAFETY: enough bytes for a RawDeath, which is plain integers
        // (any bit pattern valid); read_unaligned makes no alignment claim.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<RawDeath>()) })
    }

    fn addr(&self, bytes: [u8; 16], port: u16) -> SocketAddr {
        let ip = if self.family == AF_INET6 {
            IpAddr::V6(Ipv6Addr::from(bytes))
        } else {
            IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
        };
        SocketAddr::new(ip, port)
    }

    /// The event as a [`Death`], when it is one: `None` for an ending that is
    /// not the kernel giving up on a peer. `now` is the moment it is read, by
    /// both clocks (for the event's system time).
    fn decode(&self, hz: u32, now: (SystemTime, Duration)) -> Option<Death> {
        let jiffies = |n: u32| Duration::from_millis(u64::from(n) * 1000 / u64::from(hz.max(1)));
        let now_jiffies = self.jiffies as u32; // tcp_jiffies32
        let ending = Ending {
            error: self.error,
            state: TcpState::from_kernel(self.state),
            retransmits: u32::from(self.retransmits),
            window_probing: self.probes_tstamp != 0,
            send_window: self.snd_wnd,
            user_timeout: Duration::from_millis(u64::from(self.user_timeout_ms)),
            orphan: self.orphan != 0,
        };
        let cause = ending.cause()?;
        let owner = match self.owner {
            OWNER_CONNECT => Owner::Connect,
            OWNER_LISTENER => Owner::Listener,
            _ => Owner::Unknown,
        };
        let known = owner != Owner::Unknown;
        let comm_len = self.comm.iter().position(|&b| b == 0).unwrap_or(16);
        let ago = now.1.saturating_sub(Duration::from_nanos(self.time_ns));
        Some(Death {
            time: now.0.checked_sub(ago).unwrap_or(now.0),
            pid: known.then_some(self.pid),
            command: known.then(|| self.comm[..comm_len].to_vec()),
            owner,
            local: self.addr(self.local_addr, u16::from_be(self.local_port)),
            remote: self.addr(self.remote_addr, u16::from_be(self.remote_port)),
            cause,
            silent: jiffies(now_jiffies.wrapping_sub(self.rcv_tstamp)),
            window_probed: (cause == Cause::ZeroWindow && self.probes_tstamp != 0)
                .then(|| jiffies(now_jiffies.wrapping_sub(self.probes_tstamp))),
            state: ending.state,
            error: self.error,
            user_timeout: ending.user_timeout,
            probes_out: u32::from(self.probes_out),
            retransmits: ending.retransmits,
            orphan: ending.orphan,
            netns: self.netns,
            inode: self.inode,
        })
    }
}

/// The running watch: the program attached, and the ring buffer it fills.
pub struct Watch {
    ring: RingBuf<MapData>,
    drops: PerCpuArray<MapData, u64>,
    hz: u32,
    /// Holds the program (and so its attachment) as long as the watch lives.
    _ebpf: Ebpf,
}

/// CLOCK_MONOTONIC, which bpf_ktime_get_ns() reads.
fn monotonic() -> Duration {
    // SAFETY: an all-zero timespec is valid; clock_gettime fills it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and a pointer to a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Watch {
    /// Loads and attaches the program. Refused with [`Error::WatchNotPermitted`]
    /// without CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN), [`Error::NotBuilt`]
    /// by a build without the BPF programs, [`Error::Load`] by a kernel that
    /// lacks what it needs (BTF, the tracepoint, BPF ring buffers: Linux 5.8).
    pub fn start() -> Result<Watch, Error> {
        programs::built()?;
        let missing = system::missing_watch_capabilities();
        if !missing.is_empty() {
            return Err(Error::WatchNotPermitted { missing });
        }
        let hz = hz::kernel_hz()?;
        let btf = Btf::from_sys_fs().map_err(|e| {
            aya_error(
                "reading the kernel's BTF (/sys/kernel/btf/vmlinux)".into(),
                e,
            )
        })?;
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .load(programs::object("watch"))
            .map_err(|e| aya_error("loading the watch BPF object".into(), e))?;
        let prog: &mut BtfTracePoint = ebpf
            .program_mut(FUNCTION)
            .ok_or_else(|| {
                Error::os(
                    "the embedded watch object",
                    io::Error::other(format!("has no function {FUNCTION}")),
                )
            })?
            .try_into()
            .map_err(|e| aya_error("loading the watch program".into(), e))?;
        prog.load(TRACEPOINT, &btf).map_err(load_error)?;
        prog.attach()
            .map_err(|e| aya_error(format!("attaching to the tracepoint {TRACEPOINT}"), e))?;
        let mut map = |name: &str| {
            ebpf.take_map(name).ok_or_else(|| {
                Error::os(
                    "the embedded watch object",
                    io::Error::other(format!("has no map {name}")),
                )
            })
        };
        let ring = RingBuf::try_from(map("events")?)
            .map_err(|e| aya_error("opening the ring buffer".into(), e))?;
        let drops = PerCpuArray::try_from(map("drops")?)
            .map_err(|e| aya_error("opening the drop counter".into(), e))?;
        Ok(Watch {
            ring,
            drops,
            hz,
            _ebpf: ebpf,
        })
    }

    /// The next connection the kernel gave up on, if one is waiting (never
    /// blocks). To wait, poll [`AsFd::as_fd`] for readability with a timeout
    /// of [`POLL_INTERVAL`]: the program wakes the reader only when a
    /// quarter of the ring buffer waits. Endings that are not a dead peer (a
    /// refused `connect`, `ss -K`) are skipped.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Death> {
        loop {
            let raw = RawDeath::from_bytes(&self.ring.next()?)?;
            let now = (SystemTime::now(), monotonic());
            if let Some(death) = raw.decode(self.hz, now) {
                return Some(death);
            }
        }
    }

    /// Events lost so far because the ring buffer was full (user space did
    /// not read fast enough).
    pub fn dropped(&self) -> Result<u64, Error> {
        let values = self
            .drops
            .get(&0, 0)
            .map_err(|e| aya_error("reading the drop counter".into(), e))?;
        Ok(values.iter().sum())
    }

    /// The kernel's HZ, which converts its jiffies to time.
    pub fn hz(&self) -> u32 {
        self.hz
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("hz", &self.hz)
            .finish_non_exhaustive()
    }
}

impl AsFd for Watch {
    /// The ring buffer: readable when events are waiting.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }
}

fn load_error(err: ProgramError) -> Error {
    match err {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => Error::Load {
            program: "watch",
            source: io_error,
            verifier: programs::verifier_reason(&verifier_log.to_string()),
        },
        other => aya_error("loading the watch program".into(), other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_the_c_one() {
        crate::c_layout::assert_same_layout! {
            "watch.h", "keepalive_death", RawDeath,
            [
                time_ns, jiffies, inode, netns, pid, rcv_tstamp, probes_tstamp, user_timeout_ms,
                snd_wnd, pad32, error, family, local_port, remote_port, state, probes_out,
                retransmits, orphan, owner, pad, local_addr, remote_addr, comm,
            ],
            [("OWNER_CONNECT", OWNER_CONNECT.into()), ("OWNER_LISTENER", OWNER_LISTENER.into())]
        }
    }

    fn raw() -> RawDeath {
        let mut r = RawDeath {
            time_ns: 10_000_000_000,
            jiffies: (1u64 << 32) + 5000,
            inode: 77,
            netns: 4026531840,
            pid: 4021,
            rcv_tstamp: 5000 - 750, // 3 s at HZ=250
            user_timeout_ms: 0,
            snd_wnd: 65535,
            error: libc::ETIMEDOUT,
            family: 2,
            local_port: 44806u16.to_be(),
            remote_port: 5050u16.to_be(),
            state: 1,
            probes_out: 3,
            owner: OWNER_CONNECT,
            ..RawDeath::default()
        };
        r.local_addr[..4].copy_from_slice(&[192, 0, 2, 1]);
        r.remote_addr[..4].copy_from_slice(&[192, 0, 2, 2]);
        r.comm[..7].copy_from_slice(b"python3");
        r
    }

    #[test]
    fn a_keepalive_death_decoded() {
        let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let d = raw().decode(250, (epoch, Duration::from_secs(12))).unwrap();
        assert_eq!(d.cause, Cause::Keepalive);
        assert_eq!(d.silent, Duration::from_secs(3));
        assert_eq!(d.time, epoch - Duration::from_secs(2));
        assert_eq!(d.local.to_string(), "192.0.2.1:44806");
        assert_eq!(d.remote.to_string(), "192.0.2.2:5050");
        assert_eq!(
            (d.pid, d.command.as_deref()),
            (Some(4021), Some(&b"python3"[..]))
        );
        assert_eq!(d.owner, Owner::Connect);
        assert_eq!(d.window_probed, None);
    }

    #[test]
    fn jiffies_wrap_and_ipv6() {
        let mut r = raw();
        r.jiffies = 100; // the 32-bit counter wrapped since the last ACK
        r.rcv_tstamp = u32::MAX - 899; // 1000 jiffies before
        r.family = AF_INET6;
        r.local_addr = Ipv6Addr::LOCALHOST.octets();
        r.remote_addr = Ipv6Addr::LOCALHOST.octets();
        r.owner = 0;
        r.retransmits = 2;
        r.user_timeout_ms = 5000;
        r.probes_out = 0;
        let d = r
            .decode(1000, (SystemTime::now(), Duration::from_secs(20)))
            .unwrap();
        assert_eq!(d.silent, Duration::from_secs(1));
        assert_eq!(d.local.to_string(), "[::1]:44806");
        assert_eq!(d.cause, Cause::UserTimeout);
        assert_eq!((d.pid, d.command, d.owner), (None, None, Owner::Unknown));
    }

    #[test]
    fn a_zero_window_and_how_long_it_was_probed() {
        let mut r = raw();
        r.probes_out = 0;
        r.user_timeout_ms = 3000;
        r.rcv_tstamp = 5000 - 5; // the peer answered a probe 20 ms ago
        r.probes_tstamp = 5000 - 751;
        let d = r
            .decode(250, (SystemTime::now(), Duration::from_secs(20)))
            .unwrap();
        assert_eq!(d.cause, Cause::ZeroWindow);
        assert_eq!(d.silent, Duration::from_millis(20));
        assert_eq!(d.window_probed, Some(Duration::from_millis(3004)));
        // A window probe under way, but data was being retransmitted:
        // the retransmission timer gave up.
        r.retransmits = 3;
        let d = r
            .decode(250, (SystemTime::now(), Duration::from_secs(20)))
            .unwrap();
        assert_eq!((d.cause, d.window_probed), (Cause::UserTimeout, None));
    }

    #[test]
    fn what_is_not_a_dead_peer_is_skipped() {
        let mut r = raw();
        r.state = 2; // SYN_SENT: connect() refused
        r.error = libc::ECONNREFUSED;
        assert!(r.decode(250, (SystemTime::now(), Duration::ZERO)).is_none());
        assert!(RawDeath::from_bytes(&[0; 16]).is_none());
    }
}
