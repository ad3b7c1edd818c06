//! Linux, Android, Apple platforms and the BSDs: plain `setsockopt(2)` and
//! `getsockopt(2)` on the descriptor.

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use super::busy::BUSY;
use super::platform;
use crate::restore::{self, Applied};
use crate::status::TcpInfo;
use crate::{Checked, Config, Error, Settings, SocketOption};

pub(crate) const EINVAL: i32 = libc::EINVAL;
pub(crate) const EOPNOTSUPP: i32 = libc::EOPNOTSUPP;

pub(crate) type Sock<'a> = BorrowedFd<'a>;

pub(crate) fn raw<S: AsFd + ?Sized>(sock: &S) -> Sock<'_> {
    sock.as_fd()
}

/// The option that sets the idle time, and its name for messages.
#[cfg(target_vendor = "apple")]
const IDLE: (libc::c_int, &str) = (libc::TCP_KEEPALIVE, "TCP_KEEPALIVE");
#[cfg(not(target_vendor = "apple"))]
const IDLE: (libc::c_int, &str) = (libc::TCP_KEEPIDLE, "TCP_KEEPIDLE");
const INTERVAL: (libc::c_int, &str) = (libc::TCP_KEEPINTVL, "TCP_KEEPINTVL");
const COUNT: (libc::c_int, &str) = (libc::TCP_KEEPCNT, "TCP_KEEPCNT");

fn setsockopt_int(fd: RawFd, level: libc::c_int, opt: libc::c_int, value: i32) -> io::Result<()> {
    // SAFETY: `value` is a live c_int on the stack and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&value as *const i32).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn getsockopt_int(fd: RawFd, level: libc::c_int, opt: libc::c_int) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live locals; the kernel writes at most `len` bytes.
    let rc = unsafe { libc::getsockopt(fd, level, opt, (&mut value as *mut i32).cast(), &mut len) };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn tcp_get(fd: RawFd, (opt, name): (libc::c_int, &'static str)) -> Result<i32, Error> {
    getsockopt_int(fd, libc::IPPROTO_TCP, opt).map_err(|e| Error::os(name, e))
}

fn tcp_set(fd: RawFd, (opt, name): (libc::c_int, &'static str), value: i32) -> Result<(), Error> {
    setsockopt_int(fd, libc::IPPROTO_TCP, opt, value).map_err(|e| Error::os(name, e))
}

/// Refuses anything that is not a TCP socket, with the kernel's own errno
/// (`EBADF`, `ENOTSOCK`, `EOPNOTSUPP`/`ENOPROTOOPT`): a TCP-level option is
/// read, which only a TCP socket has.
pub(crate) fn check_tcp(sock: Sock<'_>) -> Result<(), Error> {
    tcp_get(sock.as_raw_fd(), IDLE).map(drop)
}

pub(crate) fn set_enabled(sock: Sock<'_>, on: bool) -> Result<(), Error> {
    setsockopt_int(
        sock.as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_KEEPALIVE,
        i32::from(on),
    )
    .map_err(|e| Error::os("SO_KEEPALIVE", e))
}

/// Applies a validated configuration, all or nothing.
///
/// Order: the TCP-level options first, so that the first call is the one that
/// reveals a descriptor of the wrong kind (closed, not a socket, UDP, Unix)
/// before anything changed; `SO_KEEPALIVE` last, so that no refusal leaves
/// keepalive on. The user timeout (the system's busy bound, [`super::busy`]),
/// when given, comes first of all: it is the one option a TCP-level socket
/// may lack (MPTCP; FreeBSD before 14), so its refusal too comes before any
/// change. With no value to set, one TCP-level read does
/// the kind check.
///
/// On Linux the values are already within the kernel's ranges, so once the
/// first TCP option is accepted the rest are too (short of a security policy
/// refusing one midway) and the success path is exactly one `setsockopt` per
/// option. Platforms whose kernels apply ranges of their own first read the
/// old values so a refusal midway can be undone.
pub(crate) fn apply(sock: Sock<'_>, c: &Checked) -> Result<(), Error> {
    let fd = sock.as_raw_fd();
    // What is changed, in order, for `restore::undo` when a later step is
    // refused: the key is the TCP-level option. On the stack, the first
    // `n`: the preload library calls this inside socket(), which must not
    // allocate.
    type Key = (libc::c_int, &'static str);
    const UNUSED: Applied<Key> = Applied {
        key: (0, ""),
        name: "",
        value: 0,
        old: None,
    };
    let mut applied = [UNUSED; 4];
    let mut n = 0;
    let put_back = |key: &Key, old: i64| tcp_set(fd, *key, old as i32);
    // The user timeout first of all: where it is not read first (Linux), its
    // refusal comes before any change: it is the one option a TCP-level
    // socket may lack.
    let busy = match c.user_timeout {
        Some(ms) => {
            let option = user_timeout_option(ms)?;
            Some(((option.name, option.label), option.value))
        }
        None => None,
    };
    let steps = tcp_steps(c);
    if busy.is_none() && steps.iter().all(|(_, v)| v.is_none()) {
        check_tcp(sock)?;
    }
    let given = steps
        .into_iter()
        .filter_map(|(opt, value)| Some((opt, value?)));
    for (opt, value) in busy.into_iter().chain(given) {
        let old = if SNAPSHOT {
            match tcp_get(fd, opt) {
                Ok(old) => Some(i64::from(old)),
                Err(e) => return Err(restore::undo(e, &applied[..n], put_back)),
            }
        } else {
            None
        };
        if let Err(e) = tcp_set(fd, opt, value) {
            return Err(restore::undo(e, &applied[..n], put_back));
        }
        applied[n] = Applied {
            key: opt,
            name: opt.1,
            value: i64::from(value),
            old,
        };
        n += 1;
    }
    set_enabled(sock, true).map_err(|e| restore::undo(e, &applied[..n], put_back))
}

/// The TCP-level keepalive options and the value each takes from `c`, in
/// the order [`apply`] sets them; one list for [`apply`] and [`options`].
fn tcp_steps(c: &Checked) -> [((libc::c_int, &'static str), Option<i32>); 3] {
    [(IDLE, c.idle), (INTERVAL, c.interval), (COUNT, c.count)]
}

/// The `setsockopt(2)` calls that [`apply`] makes for `c`, in its order, as
/// (level, option, value) for callers that set them themselves on a socket
/// not yet made (HTTP clients' `socket_options`). The user timeout is
/// [`Error::Unsupported`] where `TCP_USER_TIMEOUT` does not exist.
pub(crate) fn options(c: &Checked) -> Result<Vec<SocketOption>, Error> {
    let mut out = Vec::with_capacity(5);
    if let Some(ms) = c.user_timeout {
        out.push(user_timeout_option(ms)?);
    }
    for ((name, label), value) in tcp_steps(c) {
        if let Some(value) = value {
            out.push(SocketOption::new(libc::IPPROTO_TCP, name, value, label));
        }
    }
    out.push(SocketOption::new(
        libc::SOL_SOCKET,
        libc::SO_KEEPALIVE,
        1,
        "SO_KEEPALIVE",
    ));
    Ok(out)
}

/// Whether to read each option before changing it so that a refusal midway
/// can restore it. Not needed where the validated ranges are the kernel's own
/// (Linux, Android): there only the first call can fail, short of a security
/// policy, and what such a refusal leaves changed is named in the error.
const SNAPSHOT: bool = !cfg!(any(target_os = "linux", target_os = "android"));

pub(crate) fn get(sock: Sock<'_>) -> Result<Settings, Error> {
    let fd = sock.as_raw_fd();
    // TCP-level first: it is the read that refuses a socket of the wrong kind.
    let idle = tcp_get(fd, IDLE)?;
    let enabled = getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE)
        .map_err(|e| Error::os("SO_KEEPALIVE", e))?;
    let interval = tcp_get(fd, INTERVAL)?;
    let count = tcp_get(fd, COUNT)?;
    let user_timeout = user_timeout(fd)?;
    Ok(Settings {
        enabled: enabled != 0,
        idle: secs(idle),
        interval: secs(interval),
        count: count.max(0) as u32,
        user_timeout,
    })
}

fn secs(n: i32) -> Duration {
    Duration::from_secs(n.max(0) as u64)
}

/// The user timeout: the system's busy bound read back ([`super::busy`]);
/// zero where the socket has none. An MPTCP socket, which answers every
/// keepalive option, has no `TCP_USER_TIMEOUT` at all (`EOPNOTSUPP`), and a
/// FreeBSD older than 14 no `TCP_MAXUNACKTIME` (`ENOPROTOOPT`): the
/// kernel's default applies to them, which is what zero means. (This is
/// called after a TCP-level read succeeded, so the socket is of a TCP kind.)
fn user_timeout(fd: RawFd) -> Result<Duration, Error> {
    let Some(busy) = BUSY else {
        return Ok(Duration::ZERO);
    };
    match getsockopt_int(fd, libc::IPPROTO_TCP, busy.option) {
        Ok(v) => Ok(platform::busy_duration(busy.unit, v)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::ENOPROTOOPT)) => {
            Ok(Duration::ZERO)
        }
        Err(e) => Err(Error::os(busy.name, e)),
    }
}

/// Sets the system's busy bound to a validated user timeout (`ms`), in its
/// unit: `TCP_USER_TIMEOUT` (Linux, Android), `TCP_RXT_CONNDROPTIME` (Apple),
/// `TCP_MAXUNACKTIME` (FreeBSD 14+); [`Error::Unsupported`] elsewhere. A
/// fractional second where the unit is seconds is an invalid value, refused
/// before any call.
pub(crate) fn set_user_timeout(sock: Sock<'_>, ms: i32) -> Result<(), Error> {
    let option = user_timeout_option(ms)?;
    setsockopt_int(sock.as_raw_fd(), option.level, option.name, option.value)
        .map_err(|e| Error::os(option.label, e))
}

fn user_timeout_option(ms: i32) -> Result<SocketOption, Error> {
    let busy = BUSY.ok_or(Error::Unsupported {
        option: "TCP_USER_TIMEOUT",
    })?;
    Ok(SocketOption::new(
        libc::IPPROTO_TCP,
        busy.option,
        platform::busy_value(busy.unit, ms)?,
        busy.name,
    ))
}

/// The fields of `struct tcp_info` (`include/uapi/linux/tcp.h`) up to
/// `tcpi_snd_wnd` (Linux 5.4), as the kernel lays them out. The kernel copies
/// `min(len, sizeof(struct tcp_info))` bytes and says how many: an older
/// kernel fills fewer, and what it leaves out is taken as unknown.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[repr(C)]
#[derive(Default)]
struct RawTcpInfo {
    state: u8,
    ca_state: u8,
    retransmits: u8,
    probes: u8,
    backoff: u8,
    options: u8,
    wscale: u8,
    flags: u8,
    rto: u32,
    ato: u32,
    snd_mss: u32,
    rcv_mss: u32,
    unacked: u32,
    sacked: u32,
    lost: u32,
    retrans: u32,
    fackets: u32,
    last_data_sent: u32,
    last_ack_sent: u32,
    last_data_recv: u32,
    last_ack_recv: u32,
    pmtu: u32,
    rcv_ssthresh: u32,
    rtt: u32,
    rttvar: u32,
    snd_ssthresh: u32,
    snd_cwnd: u32,
    advmss: u32,
    reordering: u32,
    rcv_rtt: u32,
    rcv_space: u32,
    total_retrans: u32,
    pacing_rate: u64,
    max_pacing_rate: u64,
    bytes_acked: u64,
    bytes_received: u64,
    segs_out: u32,
    segs_in: u32,
    notsent_bytes: u32,
    min_rtt: u32,
    data_segs_in: u32,
    data_segs_out: u32,
    delivery_rate: u64,
    busy_time: u64,
    rwnd_limited: u64,
    sndbuf_limited: u64,
    delivered: u32,
    delivered_ce: u32,
    bytes_sent: u64,
    bytes_retrans: u64,
    dsack_dups: u32,
    reord_seen: u32,
    rcv_ooopack: u32,
    snd_wnd: u32,
}

/// Where fields end in `RawTcpInfo` (bytes): the kernel must fill up to
/// `tcpi_last_ack_recv`, what every Linux since 2.6 has; `tcpi_notsent_bytes`
/// came in 4.6, `tcpi_snd_wnd` in 5.4.
#[cfg(any(target_os = "linux", target_os = "android"))]
const TCP_INFO_MIN_LEN: usize = 60;
#[cfg(any(target_os = "linux", target_os = "android"))]
const NOTSENT_BYTES_END: usize = 148;
#[cfg(any(target_os = "linux", target_os = "android"))]
const SND_WND_END: usize = 232;

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn tcp_info(sock: Sock<'_>) -> Result<TcpInfo, Error> {
    let mut raw = RawTcpInfo::default();
    let mut len = mem::size_of::<RawTcpInfo>() as libc::socklen_t;
    // SAFETY: `raw` is a live, plain-data local of `len` bytes; the kernel
    // writes at most `len` bytes and reports how many in `len`.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut raw as *mut RawTcpInfo).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(Error::os("TCP_INFO", io::Error::last_os_error()));
    }
    let len = len as usize;
    if len < TCP_INFO_MIN_LEN {
        return Err(Error::os(
            "TCP_INFO",
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the kernel returned {len} bytes, fewer than this crate reads"),
            ),
        ));
    }
    // A field the kernel did not fill is unknown (None), never a zero.
    let filled = |end: usize| len >= end;
    Ok(TcpInfo {
        state: raw.state,
        retransmits: raw.retransmits,
        probes: raw.probes,
        backoff: raw.backoff,
        rto_us: raw.rto,
        unacked: raw.unacked,
        last_data_sent_ms: raw.last_data_sent,
        last_data_recv_ms: raw.last_data_recv,
        last_ack_recv_ms: raw.last_ack_recv,
        rtt_us: raw.rtt,
        notsent_bytes: filled(NOTSENT_BYTES_END).then_some(raw.notsent_bytes),
        snd_wnd: filled(SND_WND_END).then_some(raw.snd_wnd),
    })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn tcp_info(_sock: Sock<'_>) -> Result<TcpInfo, Error> {
    Err(Error::Unsupported { option: "TCP_INFO" })
}

/// This network namespace's `tcp_retries2`, the kernel's default (15) when
/// it cannot be read.
pub(crate) fn tcp_retries2() -> u32 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Ok(text) = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_retries2") {
        if let Ok(n) = text.trim().parse() {
            return n;
        }
    }
    15
}

/// The three files that hold the system-wide defaults, in `Checked` order.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SYSCTLS: [&str; 3] = [
    "/proc/sys/net/ipv4/tcp_keepalive_time",
    "/proc/sys/net/ipv4/tcp_keepalive_intvl",
    "/proc/sys/net/ipv4/tcp_keepalive_probes",
];

/// Writes the given defaults, all or nothing: every file to be written is
/// read first (which also tells a missing one before any change), and the
/// ones already written are put back when a later write fails.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn set_system_defaults(c: &Checked) -> Result<(), Error> {
    use std::io::Write;
    let write = |path: &'static str, value: i64| -> Result<(), Error> {
        // One write(2) of the whole number, as `echo N >` does.
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(format!("{value}\n").as_bytes()))
            .map_err(|e| Error::os(path, e))
    };
    let wanted = [c.idle, c.interval, c.count];
    let mut old = [0i64; 3];
    for (i, path) in SYSCTLS.iter().enumerate() {
        if wanted[i].is_some() {
            old[i] = read_sysctl(path)? as i64;
        }
    }
    let mut applied: Vec<Applied<&'static str>> = Vec::new();
    for (i, path) in SYSCTLS.iter().enumerate() {
        let Some(value) = wanted[i] else { continue };
        if let Err(e) = write(path, i64::from(value)) {
            return Err(restore::undo(e, &applied, |path, old| write(path, old)));
        }
        applied.push(Applied {
            key: path,
            name: path,
            value: i64::from(value),
            old: Some(old[i]),
        });
    }
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn set_system_defaults(_c: &Checked) -> Result<(), Error> {
    Err(Error::Unsupported {
        option: "setting the system keepalive defaults",
    })
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_sysctl(path: &'static str) -> Result<u64, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::os(path, e))?;
    text.trim().parse().map_err(|_| {
        Error::os(
            path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a number: {text:?}"),
            ),
        )
    })
}

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn system_defaults() -> Result<Config, Error> {
    Ok(Config {
        idle: Some(Duration::from_secs(read_sysctl(SYSCTLS[0])?)),
        interval: Some(Duration::from_secs(read_sysctl(SYSCTLS[1])?)),
        count: Some(read_sysctl(SYSCTLS[2])? as u32),
        user_timeout: None,
    })
}

/// macOS and the BSDs keep the defaults in milliseconds under
/// `net.inet.tcp.keepidle`, `keepintvl` and `keepcnt`.
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
pub(crate) fn system_defaults() -> Result<Config, Error> {
    fn read(name: &'static str) -> Result<u64, Error> {
        let mut value: libc::c_int = 0;
        let mut len = mem::size_of::<libc::c_int>();
        let cname = std::ffi::CString::new(name).expect("no NUL in a literal");
        // SAFETY: `value`/`len` are live locals and `cname` is NUL-terminated.
        let rc = unsafe {
            libc::sysctlbyname(
                cname.as_ptr(),
                (&mut value as *mut i32).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        if rc != 0 {
            return Err(Error::os(name, io::Error::last_os_error()));
        }
        Ok(value.max(0) as u64)
    }
    Ok(Config {
        idle: Some(Duration::from_millis(read("net.inet.tcp.keepidle")?)),
        interval: Some(Duration::from_millis(read("net.inet.tcp.keepintvl")?)),
        count: Some(read("net.inet.tcp.keepcnt")? as u32),
        user_timeout: None,
    })
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "dragonfly"
)))]
pub(crate) fn system_defaults() -> Result<Config, Error> {
    Err(Error::Unsupported {
        option: "system keepalive defaults",
    })
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;

    #[test]
    fn tcp_info_is_laid_out_as_the_kernel_s() {
        assert_eq!(mem::size_of::<RawTcpInfo>(), SND_WND_END);
        let raw = RawTcpInfo::default();
        let base = &raw as *const RawTcpInfo as usize;
        let at = |p: *const u32| p as usize - base;
        assert_eq!(at(&raw.pmtu), TCP_INFO_MIN_LEN);
        assert_eq!(at(&raw.notsent_bytes) + 4, NOTSENT_BYTES_END);
        assert_eq!(at(&raw.snd_wnd) + 4, SND_WND_END);
    }
}
