//! What the core's integration tests share: real sockets on loopback, and
//! the options read back with our own getsockopt calls, independent of the
//! crate. (Each test file uses some of it.)
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// An int socket option as the kernel has it, or -1 where the socket has no
/// such option (a user timeout on MPTCP, a TCP option on UDP).
pub fn opt(fd: &impl AsRawFd, level: libc::c_int, name: libc::c_int) -> i32 {
    let mut v: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v and len are live locals of the right size.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut v as *mut i32).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        v
    } else {
        -1
    }
}

/// The five options: (SO_KEEPALIVE, idle, interval, count, user timeout ms).
pub fn raw(fd: &impl AsRawFd) -> (i32, i32, i32, i32, i32) {
    (
        opt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
        opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
        opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT),
        opt(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
    )
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A connected pair on loopback: (listener, client, accepted).
pub fn pair() -> (TcpListener, TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (l, c, s)
}
