//! The running kernel's HZ: how many jiffies (the unit of TCP's own
//! timestamps, such as `rcv_tstamp`) make a second. It is a build option
//! (`CONFIG_HZ`: 100, 250, 300 or 1000 on most architectures), so it is
//! measured, never assumed; the cgroup policy's deadline and `keepalive
//! watch` both convert jiffies with it.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::Error;

/// The kernel's HZ, jiffies per second (`CONFIG_HZ`: 100, 250, 300, 1000),
/// which no interface states: a socket's receive timeout is kept in
/// jiffies, rounded up, so one microsecond reads back as one jiffy
/// (`sock_set_timeout()`, `sock_get_timeout()`). Needs no privilege.
pub(crate) fn kernel_hz() -> Result<u32, Error> {
    let what = "measuring the kernel's HZ (SO_RCVTIMEO of a UDP socket)";
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Error::os(what, io::Error::last_os_error()));
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let sock = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let one_us = libc::timeval {
        tv_sec: 0,
        tv_usec: 1,
    };
    let size = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: `one_us` is a live timeval of `size` bytes.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&one_us as *const libc::timeval).cast(),
            size,
        )
    };
    if rc != 0 {
        return Err(Error::os(what, io::Error::last_os_error()));
    }
    let mut jiffy = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = size;
    // SAFETY: `jiffy` is a live timeval of `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&mut jiffy as *mut libc::timeval).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(Error::os(what, io::Error::last_os_error()));
    }
    // time_t and suseconds_t are i64 here, narrower on some 32-bit targets.
    #[allow(clippy::useless_conversion)]
    let us = i64::from(jiffy.tv_sec) * 1_000_000 + i64::from(jiffy.tv_usec);
    if !(1..=1_000_000).contains(&us) {
        return Err(Error::os(
            what,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("one jiffy read back as {us} us"),
            ),
        ));
    }
    // 1000 Hz: 1000 us; 300 Hz: 3333 us -> 300.03.
    Ok((1_000_000.0 / us as f64).round() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_s_hz_is_one_of_its_configurations() {
        let hz = kernel_hz().unwrap();
        assert!([100, 250, 300, 1000].contains(&hz), "HZ {hz}");
    }
}
