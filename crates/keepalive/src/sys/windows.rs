//! Windows: socket2's `SIO_KEEPALIVE_VALS` / `TCP_KEEP*` support. Windows
//! cannot read the idle time and interval back, so [`get`] is unsupported;
//! `TCP_USER_TIMEOUT` does not exist.

use std::os::windows::io::{AsSocket, BorrowedSocket};
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

use crate::status::TcpInfo;
use crate::{Checked, Config, Error, Settings, SocketOption};

pub(crate) const EINVAL: i32 = 10022; // WSAEINVAL
pub(crate) const EOPNOTSUPP: i32 = 10045; // WSAEOPNOTSUPP

pub(crate) type Sock<'a> = BorrowedSocket<'a>;

pub(crate) fn raw<S: AsSocket + ?Sized>(sock: &S) -> Sock<'_> {
    sock.as_socket()
}

pub(crate) fn check_tcp(sock: Sock<'_>) -> Result<(), Error> {
    let r = SockRef::from(&sock);
    match r.r#type() {
        Ok(socket2::Type::STREAM) => Ok(()),
        Ok(_) => Err(Error::os(
            "SO_TYPE",
            std::io::Error::from_raw_os_error(10042),
        )), // WSAENOPROTOOPT
        Err(e) => Err(Error::os("SO_TYPE", e)),
    }
}

pub(crate) fn set_enabled(sock: Sock<'_>, on: bool) -> Result<(), Error> {
    SockRef::from(&sock)
        .set_keepalive(on)
        .map_err(|e| Error::os("SO_KEEPALIVE", e))
}

pub(crate) fn apply(sock: Sock<'_>, c: &Checked) -> Result<(), Error> {
    if c.user_timeout.is_some() {
        return Err(Error::Unsupported {
            option: "TCP_USER_TIMEOUT",
        });
    }
    check_tcp(sock)?;
    let mut ka = TcpKeepalive::new();
    if let Some(idle) = c.idle {
        ka = ka.with_time(Duration::from_secs(idle as u64));
    }
    if let Some(interval) = c.interval {
        ka = ka.with_interval(Duration::from_secs(interval as u64));
    }
    if let Some(count) = c.count {
        ka = ka.with_retries(count as u32);
    }
    SockRef::from(&sock)
        .set_tcp_keepalive(&ka)
        .map_err(|e| Error::os("SIO_KEEPALIVE_VALS", e))
}

/// `SOL_SOCKET`, `SO_KEEPALIVE`, `IPPROTO_TCP` and the per-option
/// keepalive options of `ws2def.h`/`ws2ipdef.h`: `TCP_KEEPIDLE` (3, an alias
/// of `TCP_KEEPALIVE`) and `TCP_KEEPINTVL` (17) from Windows 10 1709,
/// `TCP_KEEPCNT` (16) from 1703, all in seconds. [`apply`] uses
/// `SIO_KEEPALIVE_VALS` instead, which every Windows has; these are for
/// callers that set the options themselves before connecting.
const SOL_SOCKET: i32 = 0xffff;
const SO_KEEPALIVE: i32 = 0x0008;
const IPPROTO_TCP: i32 = 6;
const TCP_KEEPIDLE: i32 = 3;
const TCP_KEEPCNT: i32 = 16;
const TCP_KEEPINTVL: i32 = 17;

/// The `setsockopt` calls that stand for `c`, as [`crate::socket_options`]
/// documents; `TCP_USER_TIMEOUT` does not exist here.
pub(crate) fn options(c: &Checked) -> Result<Vec<SocketOption>, Error> {
    if c.user_timeout.is_some() {
        return Err(Error::Unsupported {
            option: "TCP_USER_TIMEOUT",
        });
    }
    let steps = [
        (TCP_KEEPIDLE, "TCP_KEEPIDLE", c.idle),
        (TCP_KEEPINTVL, "TCP_KEEPINTVL", c.interval),
        (TCP_KEEPCNT, "TCP_KEEPCNT", c.count),
    ];
    let mut out: Vec<SocketOption> = steps
        .into_iter()
        .filter_map(|(name, label, v)| v.map(|v| SocketOption::new(IPPROTO_TCP, name, v, label)))
        .collect();
    out.push(SocketOption::new(
        SOL_SOCKET,
        SO_KEEPALIVE,
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

pub(crate) fn set_user_timeout(_sock: Sock<'_>, _ms: i32) -> Result<(), Error> {
    Err(Error::Unsupported {
        option: "TCP_USER_TIMEOUT",
    })
}

/// Windows documents 2 hours idle, 1 second interval and 10 probes.
pub(crate) fn system_defaults() -> Result<Config, Error> {
    Ok(Config::new()
        .idle(Duration::from_secs(7200))
        .interval(Duration::from_secs(1))
        .count(10))
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
