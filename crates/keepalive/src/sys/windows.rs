//! Windows: the per-option `TCP_KEEPIDLE`/`TCP_KEEPINTVL` (Windows 10
//! 1709+) and `TCP_KEEPCNT` (1703+), all in seconds, and before them
//! `SIO_KEEPALIVE_VALS` (every Windows: milliseconds, and the probe count
//! fixed at 10, so a count is kept by rescaling the interval); the busy
//! bound `TCP_MAXRTMS` (1607+, milliseconds), before it `TCP_MAXRT`
//! (seconds). The numbers are `ws2ipdef.h`'s, as windows-sys gives them.
//!
//! Windows cannot read the idle time and interval back, so [`get`] (and
//! with it `status`) is unsupported; nothing is read from a cache instead.

use std::io;
use std::os::windows::io::{AsRawSocket, AsSocket, BorrowedSocket};
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use windows_sys::Win32::Networking::WinSock as ws;

use super::platform::{self, Unit};
use crate::status::TcpInfo;
use crate::{Checked, Config, Error, Settings, SocketOption};

pub(crate) const EINVAL: i32 = ws::WSAEINVAL;
pub(crate) const EOPNOTSUPP: i32 = ws::WSAEOPNOTSUPP;

pub(crate) type Sock<'a> = BorrowedSocket<'a>;

pub(crate) fn raw<S: AsSocket + ?Sized>(sock: &S) -> Sock<'_> {
    sock.as_socket()
}

fn setsockopt_int(sock: Sock<'_>, level: i32, opt: i32, value: i32) -> io::Result<()> {
    // SAFETY: `value` is a live i32 on the stack and the length passed is its
    // size; the socket is borrowed for the call.
    let rc = unsafe {
        ws::setsockopt(
            sock.as_raw_socket() as ws::SOCKET,
            level,
            opt,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as i32,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: no preconditions; reads the calling thread's last error.
        Err(io::Error::from_raw_os_error(unsafe {
            ws::WSAGetLastError()
        }))
    }
}

fn tcp_set(sock: Sock<'_>, (opt, name): (i32, &'static str), value: i32) -> Result<(), Error> {
    setsockopt_int(sock, ws::IPPROTO_TCP, opt, value).map_err(|e| Error::os(name, e))
}

/// Whether a refusal says that this Windows lacks the option (it predates
/// it), rather than refusing the socket or the value.
fn missing(e: &Error) -> bool {
    matches!(e, Error::Os { source, .. }
        if matches!(source.raw_os_error(), Some(ws::WSAENOPROTOOPT | ws::WSAEINVAL)))
}

pub(crate) fn check_tcp(sock: Sock<'_>) -> Result<(), Error> {
    let r = SockRef::from(&sock);
    match r.r#type() {
        Ok(socket2::Type::STREAM) => Ok(()),
        Ok(_) => Err(Error::os(
            "SO_TYPE",
            io::Error::from_raw_os_error(ws::WSAENOPROTOOPT),
        )),
        Err(e) => Err(Error::os("SO_TYPE", e)),
    }
}

pub(crate) fn set_enabled(sock: Sock<'_>, on: bool) -> Result<(), Error> {
    SockRef::from(&sock)
        .set_keepalive(on)
        .map_err(|e| Error::os("SO_KEEPALIVE", e))
}

const IDLE: (i32, &str) = (ws::TCP_KEEPIDLE, "TCP_KEEPIDLE");
const INTERVAL: (i32, &str) = (ws::TCP_KEEPINTVL, "TCP_KEEPINTVL");
const COUNT: (i32, &str) = (ws::TCP_KEEPCNT, "TCP_KEEPCNT");
const MAXRTMS: (i32, &str) = (ws::TCP_MAXRTMS, "TCP_MAXRTMS");
const MAXRT: (i32, &str) = (ws::TCP_MAXRT, "TCP_MAXRT");

/// Applies a validated configuration: the socket's kind is checked first
/// (`SO_TYPE`), then the busy bound, the keepalive values and
/// `SO_KEEPALIVE` last. Windows cannot read the old values back, so a
/// refusal midway (a security product's filter) cannot be undone;
/// keepalive then stays off.
pub(crate) fn apply(sock: Sock<'_>, c: &Checked) -> Result<(), Error> {
    check_tcp(sock)?;
    if let Some(ms) = c.user_timeout {
        set_user_timeout(sock, ms)?;
    }
    set_values(sock, c)?;
    set_enabled(sock, true)
}

/// The per-option calls where this Windows has them (each value exactly as
/// given); where the first is refused as unknown (before 1709), one
/// `SIO_KEEPALIVE_VALS` call instead, which turns keepalive on itself.
fn set_values(sock: Sock<'_>, c: &Checked) -> Result<(), Error> {
    let steps = [(IDLE, c.idle), (INTERVAL, c.interval), (COUNT, c.count)];
    let mut first = true;
    for (opt, value) in steps {
        let Some(value) = value else { continue };
        match tcp_set(sock, opt, value) {
            Ok(()) => first = false,
            Err(e) if first && missing(&e) => return set_values_sio(sock, c),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `SIO_KEEPALIVE_VALS`, with the count kept by rescaling the interval to
/// the 10 probes it always sends ([`platform::sio_keepalive_vals`]).
fn set_values_sio(sock: Sock<'_>, c: &Checked) -> Result<(), Error> {
    let v = platform::sio_keepalive_vals(c.idle, c.interval, c.count);
    let ka = TcpKeepalive::new()
        .with_time(Duration::from_millis(u64::from(v.time_ms)))
        .with_interval(Duration::from_millis(u64::from(v.interval_ms)));
    SockRef::from(&sock)
        .set_tcp_keepalive(&ka)
        .map_err(|e| Error::os("SIO_KEEPALIVE_VALS", e))
}

/// The `setsockopt` calls that stand for `c`, as [`crate::socket_options`]
/// documents: the per-option ones (Windows 10 1709+), the user timeout as
/// `TCP_MAXRTMS` (1607+).
pub(crate) fn options(c: &Checked) -> Result<Vec<SocketOption>, Error> {
    let steps = [
        (MAXRTMS, c.user_timeout),
        (IDLE, c.idle),
        (INTERVAL, c.interval),
        (COUNT, c.count),
    ];
    let mut out: Vec<SocketOption> = steps
        .into_iter()
        .filter_map(|((name, label), v)| {
            v.map(|v| SocketOption::new(ws::IPPROTO_TCP, name, v, label))
        })
        .collect();
    out.push(SocketOption::new(
        ws::SOL_SOCKET,
        ws::SO_KEEPALIVE,
        1,
        "SO_KEEPALIVE",
    ));
    Ok(out)
}

pub(crate) fn get(_sock: Sock<'_>) -> Result<Settings, Error> {
    Err(Error::Unsupported {
        option: "reading TCP keepalive values",
    })
}

/// `TCP_MAXRTMS` (milliseconds, Windows 10 1607+), or where this Windows
/// predates it `TCP_MAXRT` (whole seconds; a fractional second is an
/// invalid value there, refused before any change).
pub(crate) fn set_user_timeout(sock: Sock<'_>, ms: i32) -> Result<(), Error> {
    match tcp_set(sock, MAXRTMS, ms) {
        Err(e) if missing(&e) => tcp_set(sock, MAXRT, platform::busy_value(Unit::Secs, ms)?),
        other => other,
    }
}

/// Windows documents 2 hours idle, 1 second interval and 10 probes.
pub(crate) fn system_defaults() -> Result<Config, Error> {
    Ok(Config::new()
        .idle(Duration::from_secs(u64::from(
            platform::WINDOWS_DEFAULT_IDLE_SECS,
        )))
        .interval(Duration::from_secs(u64::from(
            platform::WINDOWS_DEFAULT_INTERVAL_SECS,
        )))
        .count(platform::WINDOWS_FIXED_PROBES))
}

pub(crate) fn tcp_info(_sock: Sock<'_>) -> Result<TcpInfo, Error> {
    Err(Error::Unsupported { option: "TCP_INFO" })
}

pub(crate) fn tcp_retries2() -> u32 {
    15
}

pub(crate) fn set_system_defaults(_c: &Checked) -> Result<(), Error> {
    Err(Error::Unsupported {
        option: "setting the system keepalive defaults",
    })
}
