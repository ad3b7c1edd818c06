//! The interposer: the two symbols the library exports, `socket` and
//! `setsockopt`, each passing the program's call on to the next definition
//! in the lookup order (`dlsym(RTLD_NEXT)`, so other preloaded interposers
//! keep working; the system call itself when there is none), and returning
//! what that call returned, with its `errno`.
//!
//! What happens around the call is decided elsewhere: what a new TCP socket
//! gets ([`crate::settings`]), what becomes of the program's own keepalive
//! `setsockopt` calls ([`crate::enforce`]).

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::enforce::{self, Verdict};
use crate::{errno, settings};

/// `socket()` as a program sees it with this library preloaded: the next
/// `socket` in the lookup order, then keepalive on the new descriptor when it
/// is a TCP socket. Returns what the real call returned, with its `errno`.
///
/// # Safety
///
/// None beyond `socket(2)`'s: the arguments are passed on unchanged.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let fd = match next_socket() {
        // SAFETY: `next` is libc's socket (or the next interposer's), whose
        // contract is socket(2)'s, called with the caller's arguments.
        Some(next) => unsafe { next(domain, ty, protocol) },
        // SAFETY: the socket(2) system call itself; it takes three ints.
        None => (unsafe { libc::syscall(libc::SYS_socket, domain, ty, protocol) }) as c_int,
    };
    if fd >= 0 && is_tcp(domain, ty, protocol) {
        // Nothing below can panic; should it ever, the panic stops here and
        // the caller still gets its socket.
        let _ = errno::kept(|| std::panic::catch_unwind(|| configure(fd)));
    }
    fd
}

/// `setsockopt()` as a program sees it with this library preloaded: the
/// next `setsockopt`, with the program's value or, for a keepalive option
/// under `KEEPALIVE_ENFORCE=1`, the configured one (`src/enforce.rs`).
/// Returns what the real call returned, with its `errno`.
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
    let call = Setsockopt {
        fd,
        level,
        name,
        value,
        len,
    };
    // SAFETY: the caller's arguments, under setsockopt(2)'s contract.
    match unsafe { enforce::verdict(&call) } {
        // SAFETY: as above.
        Verdict::Pass => unsafe { call.next() },
        // SAFETY: a live int, passed with its size.
        Verdict::Replace(ours) => unsafe { call.with_int(&ours).next() },
        Verdict::PassThenTell(told) => {
            // SAFETY: as above.
            let rc = unsafe { call.next() };
            if rc == 0 {
                told.if_overridden(fd);
            }
            rc
        }
    }
}

/// Whether `socket(domain, ty, protocol)` made a TCP socket: IPv4 or IPv6,
/// `SOCK_STREAM` whatever the type flags, protocol 0 (the default, TCP),
/// `IPPROTO_TCP` or `IPPROTO_MPTCP` (Multipath TCP, which takes the same
/// keepalive options and which libkeepalive 0.3 configures too).
fn is_tcp(domain: c_int, ty: c_int, protocol: c_int) -> bool {
    let base = ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
    (domain == libc::AF_INET || domain == libc::AF_INET6)
        && base == libc::SOCK_STREAM
        && (protocol == 0 || protocol == libc::IPPROTO_TCP || protocol == libc::IPPROTO_MPTCP)
}

/// Applies the settings to a new TCP socket.
fn configure(fd: c_int) {
    // SAFETY: `fd` was just returned by socket() and stays open during this
    // call (the caller has not seen it yet).
    let sock = unsafe { BorrowedFd::borrow_raw(fd) };
    settings::apply(&sock, &settings::wanted());
}

/// One `setsockopt` call, as the program made it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setsockopt {
    pub(crate) fd: c_int,
    pub(crate) level: c_int,
    pub(crate) name: c_int,
    value: *const c_void,
    len: libc::socklen_t,
}

/// An `int`'s size, as setsockopt takes it.
const INT_LEN: libc::socklen_t = std::mem::size_of::<c_int>() as libc::socklen_t;

impl Setsockopt {
    /// The value as an `int`, when the call passes at least one (all the
    /// kernel reads of it for the keepalive options); `None` for a NULL or
    /// shorter value, which the call is left to fail with.
    ///
    /// # Safety
    ///
    /// `value` points to `len` readable bytes, as setsockopt(2) requires.
    pub(crate) unsafe fn int_value(&self) -> Option<c_int> {
        if self.value.is_null() || self.len < INT_LEN {
            return None;
        }
        // SAFETY: non-NULL with at least an int's bytes (the caller's
        // promise), read unaligned as the kernel would.
        Some(unsafe { self.value.cast::<c_int>().read_unaligned() })
    }

    /// A call with an int value, as a test makes it.
    #[cfg(test)]
    pub(crate) fn of_int(fd: c_int, level: c_int, name: c_int, value: &c_int) -> Self {
        Setsockopt {
            fd,
            level,
            name,
            value: std::ptr::null(),
            len: 0,
        }
        .with_int(value)
    }

    /// A call with a NULL value, as a test makes it.
    #[cfg(test)]
    pub(crate) fn null(fd: c_int, level: c_int, name: c_int) -> Self {
        Setsockopt {
            fd,
            level,
            name,
            value: std::ptr::null(),
            len: INT_LEN,
        }
    }

    /// The same call with `value` in place of the program's.
    fn with_int(self, value: &c_int) -> Setsockopt {
        Setsockopt {
            value: (value as *const c_int).cast(),
            len: INT_LEN,
            ..self
        }
    }

    /// Makes the call: the next `setsockopt` in the lookup order, or the
    /// system call itself when there is none.
    ///
    /// # Safety
    ///
    /// `setsockopt(2)`'s, for `value` and `len`.
    unsafe fn next(self) -> c_int {
        let Setsockopt {
            fd,
            level,
            name,
            value,
            len,
        } = self;
        let p = NEXT_SETSOCKOPT.get();
        if p.is_null() {
            // SAFETY: the setsockopt(2) system call with the call's arguments.
            return (unsafe { libc::syscall(libc::SYS_setsockopt, fd, level, name, value, len) })
                as c_int;
        }
        // SAFETY: `p` is the address of a function named `setsockopt`,
        // which has setsockopt(2)'s signature.
        let next = unsafe { std::mem::transmute::<*mut c_void, SetsockoptFn>(p) };
        // SAFETY: the call's arguments, under setsockopt(2)'s contract.
        unsafe { next(fd, level, name, value, len) }
    }
}

// ---- the next definitions ------------------------------------------------

/// The signature of `socket(2)`.
type SocketFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;

/// The signature of `setsockopt(2)`.
type SetsockoptFn =
    unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, libc::socklen_t) -> c_int;

static NEXT_SOCKET: Next = Next::new(b"socket\0");
static NEXT_SETSOCKOPT: Next = Next::new(b"setsockopt\0");

/// Finds the next `socket`, so that the first `socket()` does not: called
/// by the constructor.
pub(crate) fn resolve() {
    let _ = next_socket();
}

/// The next `socket` in the lookup order, or `None` when it cannot be had
/// (then the caller makes the system call itself).
fn next_socket() -> Option<SocketFn> {
    let p = NEXT_SOCKET.get();
    // SAFETY: `p` is the address of a function named `socket`, which has
    // socket(2)'s signature.
    (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, SocketFn>(p) })
}

/// A function the library wraps: the next definition of its name after
/// ours in the lookup order, found once.
struct Next {
    /// NUL-terminated.
    name: &'static [u8],
    found: AtomicPtr<c_void>,
}

impl Next {
    const fn new(name: &'static [u8]) -> Self {
        Next {
            name,
            found: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Its address, or NULL when there is none or this thread is already
    /// inside `dlsym` (which may allocate, and an allocator that creates a
    /// socket would call back in here: that nested call gets NULL instead
    /// of recursing).
    fn get(&self) -> *mut c_void {
        let p = self.found.load(Ordering::Acquire);
        if !p.is_null() {
            return p;
        }
        let nested = RESOLVING.try_with(|r| r.replace(true)).unwrap_or(true);
        if nested {
            return std::ptr::null_mut();
        }
        debug_assert_eq!(self.name.last(), Some(&0));
        // SAFETY: a NUL-terminated name; RTLD_NEXT is valid from a shared object.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr().cast()) };
        let _ = RESOLVING.try_with(|r| r.set(false));
        if !p.is_null() {
            // Two threads may both resolve it: they store the same pointer.
            self.found.store(p, Ordering::Release);
        }
        p
    }
}

thread_local! {
    /// Set while this thread is inside `dlsym`.
    static RESOLVING: Cell<bool> = const { Cell::new(false) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{allocations, full, raw, FULL};
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

    #[test]
    fn tcp_is_recognised_with_any_type_flag() {
        use libc::*;
        for domain in [AF_INET, AF_INET6] {
            for flags in [0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC] {
                assert!(is_tcp(domain, SOCK_STREAM | flags, 0));
                assert!(is_tcp(domain, SOCK_STREAM | flags, IPPROTO_TCP));
            }
            assert!(!is_tcp(domain, SOCK_DGRAM, 0));
            assert!(!is_tcp(domain, SOCK_RAW, 0));
            assert!(!is_tcp(domain, SOCK_SEQPACKET, 0));
            assert!(!is_tcp(domain, SOCK_STREAM, IPPROTO_SCTP));
            assert!(is_tcp(domain, SOCK_STREAM, 262)); // IPPROTO_MPTCP, as 0.3 does
            assert!(is_tcp(domain, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_MPTCP));
            assert!(!is_tcp(domain, SOCK_DGRAM, IPPROTO_MPTCP));
        }
        assert!(!is_tcp(AF_UNIX, SOCK_STREAM, 0));
        assert!(!is_tcp(AF_PACKET, SOCK_STREAM, 0));
    }

    /// The per-socket path allocates nothing, on success and on every error
    /// path the kernel can give (wrong kind of socket, closed descriptor).
    #[test]
    fn per_socket_path_does_not_allocate() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let full = full();
        // Warm up what is done once per process: dlsym, the environment.
        settings::apply(&stream.as_fd(), &full);
        // SAFETY: plain socket(2) arguments; the descriptor is closed at once.
        unsafe { libc::close(socket(libc::AF_INET, libc::SOCK_STREAM, 0)) };

        let before = allocations();
        for _ in 0..100 {
            settings::apply(&stream.as_fd(), &full);
            settings::apply(&udp.as_fd(), &full);
            // SAFETY: a number that is not an open descriptor; only passed
            // to getsockopt/setsockopt, which answer EBADF.
            let closed = unsafe { BorrowedFd::borrow_raw(1_000_000) };
            settings::apply(&closed, &full);
            let _ = settings::wanted();
            // The whole interposed socket() on a TCP socket, settings and all.
            // SAFETY: plain socket(2) arguments.
            let fd = unsafe { socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
            assert!(fd >= 0);
            // SAFETY: the fresh descriptor is ours to close.
            unsafe { libc::close(fd) };
        }
        assert_eq!(
            allocations() - before,
            0,
            "allocations on the per-socket path"
        );
        assert_eq!(raw(&stream), FULL);
    }

    #[test]
    fn socket_keeps_the_real_result_and_errno() {
        // A failing call: the kernel's errno, not ours.
        errno::set(0);
        // SAFETY: plain socket(2) arguments.
        let fd = unsafe { socket(12345, libc::SOCK_STREAM, 0) };
        assert_eq!((fd, errno::get()), (-1, libc::EAFNOSUPPORT));
        // SAFETY: as above.
        let fd = unsafe { socket(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_TCP) };
        assert_eq!((fd, errno::get()), (-1, libc::EPROTONOSUPPORT));

        // A successful TCP call leaves errno as the caller had it.
        errno::set(libc::EINTR);
        // SAFETY: as above.
        let fd = unsafe { socket(libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0);
        assert_eq!(errno::get(), libc::EINTR);
        // SAFETY: the fresh descriptor is ours.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        assert_eq!(
            crate::test_support::opt(&owned, libc::SOL_SOCKET, libc::SO_TYPE),
            libc::SOCK_STREAM
        );
    }

    /// With the test process's rules (no KEEPALIVE_ENFORCE), calls pass
    /// unchanged, and a failing call keeps the kernel's errno.
    #[test]
    fn setsockopt_passes_calls_through() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let v: c_int = 61;
        let p = (&v as *const c_int).cast();
        // SAFETY: a live int with its size, a live descriptor.
        let rc = unsafe {
            setsockopt(
                l.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_KEEPIDLE,
                p,
                INT_LEN,
            )
        };
        assert_eq!(rc, 0);
        assert_eq!(raw(&l).1, 61);
        // SAFETY: as above, with a length too short: the kernel refuses it.
        let rc = unsafe { setsockopt(l.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, p, 2) };
        assert_eq!((rc, errno::get()), (-1, libc::EINVAL));
        // SAFETY: a descriptor that is not open: EBADF, nothing read.
        let rc = unsafe { setsockopt(-1, libc::SOL_SOCKET, libc::SO_KEEPALIVE, p, INT_LEN) };
        assert_eq!((rc, errno::get()), (-1, libc::EBADF));
    }

    #[test]
    fn next_definitions_are_found() {
        assert!(next_socket().is_some());
        assert!(!NEXT_SOCKET.found.load(Ordering::Acquire).is_null());
        assert!(!NEXT_SETSOCKOPT.get().is_null());
    }
}
