//! `libkeepalive-preload.so`: TCP keepalive for programs that cannot be
//! changed, a drop-in replacement for libkeepalive 0.3.
//!
//! ```sh
//! LD_PRELOAD=/usr/local/lib/libkeepalive-preload.so \
//!     KEEPIDLE=60 KEEPINTVL=10 KEEPCNT=5 KEEPALIVE_USER_TIMEOUT_MS=90000 program
//! ```
//!
//! The library exports one symbol, `socket`. Every call goes to the next
//! `socket` in the lookup order (`dlsym(RTLD_NEXT)`, so other preloaded
//! interposers keep working); for a TCP socket (`AF_INET` or `AF_INET6`,
//! `SOCK_STREAM` with any of `SOCK_NONBLOCK`/`SOCK_CLOEXEC`, protocol 0 or
//! `IPPROTO_TCP`) it then asks the core crate ([`keepalive::set`],
//! [`keepalive::set_user_timeout`]) for what the environment says:
//!
//! | variable | effect |
//! |---|---|
//! | `KEEPALIVE` | `off` (any case): keepalive left off and `KEEP*` values not applied, as in 0.3; unset, empty or `on`: on |
//! | `KEEPIDLE` | `TCP_KEEPIDLE`, 1..32767 seconds |
//! | `KEEPINTVL` | `TCP_KEEPINTVL`, 1..32767 seconds |
//! | `KEEPCNT` | `TCP_KEEPCNT`, 1..127 probes |
//! | `KEEPALIVE_USER_TIMEOUT_MS` | `TCP_USER_TIMEOUT`, 0..2147483647 ms (applied even with `KEEPALIVE=off`: it is not a keepalive option) |
//!
//! The environment is read once, at the first TCP `socket()` of the process.
//! An invalid value prints one line on stderr naming the variable and the
//! range, and is ignored; the other values still apply.
//!
//! Guarantees, each tested by `tests/preload`:
//! - `socket()` returns exactly what the real one returned, and `errno` is
//!   what the real one left: our calls are made between saving and restoring
//!   it, and whatever they fail with is dropped.
//! - No panic unwinds out of `socket()`.
//! - Threads and `fork`: no lock is ever taken. The first caller reads the
//!   environment and publishes the result with an atomic flag; a caller that
//!   finds it still being read (another thread, or a child forked at that
//!   moment) reads it again itself, silently.
//! - After the first call the per-socket path does not allocate: the
//!   settings are a `Copy` value, and the core's `set` and `set_user_timeout`
//!   allocate neither on success nor on error (a unit test counts).

#![warn(missing_docs)]

use std::cell::{Cell, UnsafeCell};
use std::ffi::{c_int, c_void, CStr};
use std::fmt::{self, Write as _};
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

mod env;

use env::Wanted;

/// The signature of `socket(2)`.
type SocketFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;

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
        let saved = errno();
        // Nothing below can panic; should it ever, the panic stops here and
        // the caller still gets its socket.
        let _ = std::panic::catch_unwind(|| configure(fd));
        set_errno(saved);
    }
    fd
}

/// Whether `socket(domain, ty, protocol)` made a TCP socket: IPv4 or IPv6,
/// `SOCK_STREAM` whatever the type flags, protocol 0 (the default, TCP) or
/// `IPPROTO_TCP`.
fn is_tcp(domain: c_int, ty: c_int, protocol: c_int) -> bool {
    let base = ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
    (domain == libc::AF_INET || domain == libc::AF_INET6)
        && base == libc::SOCK_STREAM
        && (protocol == 0 || protocol == libc::IPPROTO_TCP)
}

/// Applies what the environment asks for to a new TCP socket.
fn configure(fd: c_int) {
    // SAFETY: `fd` was just returned by socket() and stays open during this
    // call (the caller has not seen it yet).
    let sock = unsafe { BorrowedFd::borrow_raw(fd) };
    apply(&sock, &wanted());
}

/// Applies `wanted` to `sock`. Errors are dropped: the program asked for a
/// socket, not for keepalive, and gets its socket whatever the kernel says.
fn apply(sock: &BorrowedFd<'_>, wanted: &Wanted) {
    if wanted.enabled {
        let _ = keepalive::set(sock, &wanted.keepalive);
    }
    if let Some(timeout) = wanted.user_timeout {
        let _ = keepalive::set_user_timeout(sock, timeout);
    }
}

// ---- the next socket() ----------------------------------------------------

/// The next `socket` after ours, found once.
static NEXT_SOCKET: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

thread_local! {
    /// Set while this thread is inside `dlsym`.
    static RESOLVING: Cell<bool> = const { Cell::new(false) };
}

/// The next `socket` in the lookup order, or `None` when it cannot be had
/// (then the caller makes the system call itself). `dlsym` may allocate, and
/// an allocator that creates a socket would call back in here: that nested
/// call gets `None` instead of recursing.
fn next_socket() -> Option<SocketFn> {
    let mut p = NEXT_SOCKET.load(Ordering::Acquire);
    if p.is_null() {
        let nested = RESOLVING.try_with(|r| r.replace(true)).unwrap_or(true);
        if nested {
            return None;
        }
        // SAFETY: a NUL-terminated name; RTLD_NEXT is valid from a shared object.
        p = unsafe { libc::dlsym(libc::RTLD_NEXT, b"socket\0".as_ptr().cast()) };
        let _ = RESOLVING.try_with(|r| r.set(false));
        if p.is_null() {
            return None;
        }
        // Two threads may both resolve it: they store the same pointer.
        NEXT_SOCKET.store(p, Ordering::Release);
    }
    // SAFETY: `p` is the address of a function named `socket`, which has
    // socket(2)'s signature.
    Some(unsafe { std::mem::transmute::<*mut c_void, SocketFn>(p) })
}

// ---- the settings, read once ---------------------------------------------

const UNREAD: u8 = 0;
const READING: u8 = 1;
const READY: u8 = 2;

/// Where the settings are: `UNREAD`, `READING` (one thread is reading the
/// environment), `READY` (`SETTINGS` is written and never changes again).
static STATE: AtomicU8 = AtomicU8::new(UNREAD);

/// The settings, written once by the thread that moved `STATE` from
/// `UNREAD` to `READING`, read only after `STATE` is `READY`.
static SETTINGS: Slot = Slot(UnsafeCell::new(MaybeUninit::uninit()));

struct Slot(UnsafeCell<MaybeUninit<Wanted>>);

// SAFETY: written once before `STATE` is set to `READY` with Release, read
// only after `STATE` is seen `READY` with Acquire.
unsafe impl Sync for Slot {}

/// What the environment asks for. The first caller reads it (and warns about
/// invalid values); later callers copy the result. No lock: a caller that
/// arrives while the first is still reading (or a child forked at that
/// moment, where that reader no longer exists) reads it itself, silently.
fn wanted() -> Wanted {
    match STATE.compare_exchange(UNREAD, READING, Ordering::Acquire, Ordering::Acquire) {
        Ok(_) => {
            let wanted = env::read(getenv, warn);
            // SAFETY: only the thread that won the exchange writes, once,
            // and nobody reads before `READY` is published below.
            unsafe { (*SETTINGS.0.get()).write(wanted) };
            STATE.store(READY, Ordering::Release);
            wanted
        }
        // SAFETY: `READY` (seen with Acquire) means `SETTINGS` was written.
        Err(READY) => unsafe { (*SETTINGS.0.get()).assume_init_read() },
        Err(_) => env::read(getenv, |_| {}),
    }
}

/// The raw value of an environment variable, borrowed from `environ`.
fn getenv(name: &str) -> Option<&'static [u8]> {
    let mut cname = [0u8; 64];
    let bytes = name.as_bytes();
    if bytes.len() >= cname.len() {
        return None;
    }
    cname[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: `cname` is NUL-terminated. getenv returns NULL or a pointer to
    // a NUL-terminated string in `environ`, which is used only while the
    // settings are being read, inside this socket() call.
    unsafe {
        let p = libc::getenv(cname.as_ptr().cast());
        (!p.is_null()).then(|| CStr::from_ptr(p).to_bytes())
    }
}

/// Writes one warning line to stderr in a single write(2): formatted on the
/// stack, so it neither allocates nor interleaves with other output.
fn warn(args: fmt::Arguments<'_>) {
    let mut line = env::Line::new();
    let _ = write!(line, "libkeepalive-preload: {args}");
    let mut bytes = [0u8; 322];
    let text = line.as_bytes();
    bytes[..text.len()].copy_from_slice(text);
    bytes[text.len()] = b'\n';
    // SAFETY: writes `text.len() + 1` initialised bytes from a live buffer.
    unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), text.len() + 1) };
}

// ---- errno -----------------------------------------------------------------

fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno, always valid.
    unsafe { *libc::__errno_location() }
}

fn set_errno(value: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = value };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    /// Counts this thread's allocations, so that a test can prove a path
    /// allocates nothing (other test threads do not disturb the count).
    struct Counting;

    thread_local! {
        static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    // SAFETY: forwards to the system allocator unchanged.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            // SAFETY: same contract as ours.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: same contract as ours.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            // SAFETY: same contract as ours.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    fn allocations() -> usize {
        ALLOCATIONS.with(Cell::get)
    }

    /// An int socket option read with getsockopt directly, not through the core.
    fn opt(fd: &impl AsRawFd, level: c_int, name: c_int) -> std::io::Result<c_int> {
        let mut value: c_int = -1;
        let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
        // SAFETY: live locals of the right size.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                level,
                name,
                (&mut value as *mut c_int).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            Ok(value)
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    fn tcp_opts(fd: &impl AsRawFd) -> [c_int; 5] {
        [
            opt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE).unwrap(),
            opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE).unwrap(),
            opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL).unwrap(),
            opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT).unwrap(),
            opt(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT).unwrap(),
        ]
    }

    fn full() -> Wanted {
        Wanted {
            enabled: true,
            keepalive: keepalive::Config::from_secs(Some(60), Some(10), Some(5)).unwrap(),
            user_timeout: Some(Duration::from_millis(7000)),
        }
    }

    fn new_socket(domain: c_int, ty: c_int) -> OwnedFd {
        // SAFETY: plain socket(2); the descriptor is owned by the result.
        let fd = unsafe { libc::socket(domain, ty, 0) };
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        // SAFETY: a fresh descriptor nobody else owns.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

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
            assert!(!is_tcp(domain, SOCK_STREAM, 262)); // IPPROTO_MPTCP
        }
        assert!(!is_tcp(AF_UNIX, SOCK_STREAM, 0));
        assert!(!is_tcp(AF_PACKET, SOCK_STREAM, 0));
    }

    #[test]
    fn apply_sets_every_value_on_a_tcp_socket() {
        let sock = new_socket(libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_NONBLOCK);
        apply(&sock.as_fd(), &full());
        assert_eq!(tcp_opts(&sock), [1, 60, 10, 5, 7000]);
    }

    #[test]
    fn apply_with_keepalive_off_leaves_keepalive_alone() {
        let sock = new_socket(libc::AF_INET, libc::SOCK_STREAM);
        let before = tcp_opts(&sock);
        let off = Wanted {
            enabled: false,
            user_timeout: None,
            ..full()
        };
        apply(&sock.as_fd(), &off);
        assert_eq!(tcp_opts(&sock), before);
        assert_eq!(before[0], 0);

        // The user timeout is not a keepalive option: it still applies.
        apply(
            &sock.as_fd(),
            &Wanted {
                enabled: false,
                ..full()
            },
        );
        let after = tcp_opts(&sock);
        assert_eq!(after[..4], before[..4]);
        assert_eq!(after[4], 7000);
    }

    #[test]
    fn apply_on_udp_changes_nothing_and_does_not_panic() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        apply(&udp.as_fd(), &full());
        assert_eq!(opt(&udp, libc::SOL_SOCKET, libc::SO_KEEPALIVE).unwrap(), 0);
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
        apply(&stream.as_fd(), &full);
        // SAFETY: plain socket(2) arguments; the descriptor is closed at once.
        unsafe { libc::close(socket(libc::AF_INET, libc::SOCK_STREAM, 0)) };

        let before = allocations();
        for _ in 0..100 {
            apply(&stream.as_fd(), &full);
            apply(&udp.as_fd(), &full);
            // SAFETY: a number that is not an open descriptor; only passed
            // to getsockopt/setsockopt, which answer EBADF.
            let closed = unsafe { BorrowedFd::borrow_raw(1_000_000) };
            apply(&closed, &full);
            let _ = wanted();
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
        assert_eq!(tcp_opts(&stream), [1, 60, 10, 5, 7000]);
    }

    #[test]
    fn socket_keeps_the_real_result_and_errno() {
        // A failing call: the kernel's errno, not ours.
        set_errno(0);
        // SAFETY: plain socket(2) arguments.
        let fd = unsafe { socket(12345, libc::SOCK_STREAM, 0) };
        assert_eq!((fd, errno()), (-1, libc::EAFNOSUPPORT));
        // SAFETY: as above.
        let fd = unsafe { socket(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_TCP) };
        assert_eq!((fd, errno()), (-1, libc::EPROTONOSUPPORT));

        // A successful TCP call leaves errno as the caller had it.
        set_errno(libc::EINTR);
        // SAFETY: as above.
        let fd = unsafe { socket(libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0);
        assert_eq!(errno(), libc::EINTR);
        // SAFETY: the fresh descriptor is ours.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        assert_eq!(
            opt(&owned, libc::SOL_SOCKET, libc::SO_TYPE).unwrap(),
            libc::SOCK_STREAM
        );
    }

    #[test]
    fn settings_are_read_once_and_then_copied() {
        let first = wanted();
        assert_eq!(STATE.load(Ordering::Acquire), READY);
        assert_eq!(wanted(), first);
    }

    #[test]
    fn next_socket_is_found() {
        assert!(next_socket().is_some());
        assert!(!NEXT_SOCKET.load(Ordering::Acquire).is_null());
    }
}
