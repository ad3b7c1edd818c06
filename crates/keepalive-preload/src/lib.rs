//! `libkeepalive-preload.so`: TCP keepalive for programs that cannot be
//! changed, a drop-in replacement for libkeepalive 0.3.
//!
//! ```sh
//! LD_PRELOAD=/usr/local/lib/libkeepalive-preload.so \
//!     KEEPIDLE=60 KEEPINTVL=10 KEEPCNT=5 KEEPALIVE_USER_TIMEOUT_MS=90000 program
//! ```
//!
//! The library exports two symbols, `socket` and `setsockopt` (the latter
//! for `KEEPALIVE_ENFORCE`, see `src/enforce.rs`). Every `socket` call goes to the next
//! `socket` in the lookup order (`dlsym(RTLD_NEXT)`, so other preloaded
//! interposers keep working); for a TCP socket (`AF_INET` or `AF_INET6`,
//! `SOCK_STREAM` with any of `SOCK_NONBLOCK`/`SOCK_CLOEXEC`, protocol 0,
//! `IPPROTO_TCP` or `IPPROTO_MPTCP`) it then asks the core crate ([`keepalive::set`],
//! [`keepalive::set_user_timeout`]) for what the environment says:
//!
//! | variable | effect |
//! |---|---|
//! | `KEEPALIVE` | `off` (any case): keepalive left off and `KEEP*` values not applied, as in 0.3; unset, empty or `on`: on |
//! | `KEEPIDLE` | `TCP_KEEPIDLE`, 1..32767 seconds |
//! | `KEEPINTVL` | `TCP_KEEPINTVL`, 1..32767 seconds |
//! | `KEEPCNT` | `TCP_KEEPCNT`, 1..127 probes |
//! | `KEEPALIVE_USER_TIMEOUT_MS` | `TCP_USER_TIMEOUT`, 0..2147483647 ms (applied even with `KEEPALIVE=off`: it is not a keepalive option) |
//! | `KEEPALIVE_ENFORCE` | `1`/`on`: the program's own keepalive `setsockopt` calls get the configured values; `0`/`off`: they win, each one that overrides a configured value named once; unset: they win silently (`src/enforce.rs`) |
//! | `KEEPALIVE_DEADLINE` | the dead-peer deadline, 2..131068 s: idle, interval, count and the user timeout by the core's split ([`keepalive::Deadline`]); beside it the four separate variables are ignored, with one warning naming them; ignored (with a warning) under `KEEPALIVE=off` |
//! | `KEEPALIVE_MAX_IDLE` | with `KEEPALIVE_DEADLINE`: the silence a NAT, firewall or load balancer on the path tolerates, 5..4294967295 s; the deadline's split keeps a healthy connection from being silent that long ([`keepalive::Deadline::max_idle`]); one the deadline cannot keep, or one without a deadline, is ignored with a warning |
//!
//! The environment is read and checked once, when the library is loaded (an
//! ELF constructor, before `main`). In a secure-execution program (setuid,
//! setgid, file capabilities: `getauxval(AT_SECURE)`, reached through
//! /etc/ld.so.preload) it is not read at all: the library acts as with an
//! empty environment and writes nothing. An invalid value prints one line on
//! stderr naming the variable and the range, then, and is ignored; the other
//! values still apply. The line is written only where it cannot hurt the
//! program ([`write_warning`]): fd 2 open, not a socket (an inetd-style
//! service's stderr may be its client), writable without blocking, and with
//! `SIGPIPE` blocked around the write (a `SIGPIPE` it raises is swallowed).
//! One program tree gets the warning once: a process that warned sets
//! `KEEPALIVE_PRELOAD_WARNED` (a fingerprint of the lines) in its own
//! environment, and a child that would print the very same lines stays
//! silent (a wrapper script, pyenv's shims, `sh -c`); a child with other
//! invalid values warns about those.
//!
//! Guarantees, each tested by `tests/preload`:
//! - `socket()` returns exactly what the real one returned, and `errno` is
//!   what the real one left: our calls are made between saving and restoring
//!   it, and whatever they fail with is dropped.
//! - `socket()` writes nothing, raises no signal and makes no call that is a
//!   cancellation point (only `getsockopt`/`setsockopt` on the new socket),
//!   so a thread with a pending `pthread_cancel` gets its descriptor back.
//! - No panic unwinds out of `socket()`.
//! - Threads and `fork`: no lock is ever taken. The constructor publishes
//!   the settings with an atomic flag; a `socket()` made before it ran (by
//!   another library's constructor) reads the environment itself, silently.
//! - The per-socket path does not allocate: the settings are a `Copy` value,
//!   and the core's `set` and `set_user_timeout` allocate neither on success
//!   nor on error (a unit test counts).

#![warn(missing_docs)]

use std::cell::{Cell, UnsafeCell};
use std::ffi::{c_int, c_void, CStr};
use std::fmt::{self, Write as _};
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

mod enforce;
mod env;

use enforce::Rules;
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
/// `SOCK_STREAM` whatever the type flags, protocol 0 (the default, TCP),
/// `IPPROTO_TCP` or `IPPROTO_MPTCP` (Multipath TCP, which takes the same
/// keepalive options and which libkeepalive 0.3 configures too).
fn is_tcp(domain: c_int, ty: c_int, protocol: c_int) -> bool {
    let base = ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
    (domain == libc::AF_INET || domain == libc::AF_INET6)
        && base == libc::SOCK_STREAM
        && (protocol == 0 || protocol == libc::IPPROTO_TCP || protocol == libc::IPPROTO_MPTCP)
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
/// The user timeout is a call of its own, so that a socket refusing it (an
/// MPTCP socket: `TCP_USER_TIMEOUT` gives `ENOPROTOOPT`) still gets keepalive.
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
        p = next_symbol(b"socket\0");
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

/// The next definition of `name` (NUL-terminated) after ours in the lookup
/// order, or NULL when there is none or this thread is already inside
/// `dlsym` (which may allocate, and an allocator may create a socket).
pub(crate) fn next_symbol(name: &[u8]) -> *mut c_void {
    let nested = RESOLVING.try_with(|r| r.replace(true)).unwrap_or(true);
    if nested {
        return std::ptr::null_mut();
    }
    debug_assert_eq!(name.last(), Some(&0));
    // SAFETY: a NUL-terminated name; RTLD_NEXT is valid from a shared object.
    let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast()) };
    let _ = RESOLVING.try_with(|r| r.set(false));
    p
}

// ---- the settings, read once, when the library is loaded -------------------

/// The library's constructor, run by the dynamic loader when it loads the
/// library (before `main` for `LD_PRELOAD`, at `dlopen` otherwise).
#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = on_load;

/// Reads and checks the environment (warning about invalid values, the only
/// place that ever writes anything) and finds the next `socket`, so that
/// `socket()` itself only copies a value. Keeps `errno`; never unwinds.
extern "C" fn on_load() {
    let saved = errno();
    let _ = std::panic::catch_unwind(|| {
        let _ = next_socket();
        // One program tree, one warning: a process whose parent already
        // printed these very warnings (a wrapper script, pyenv's shims, a
        // shell pipeline) stays silent. The mark is set only where there is
        // something to warn about.
        let (count, fingerprint) = warnings_fingerprint();
        let inherited = getenv(WARNED).and_then(parse_fingerprint);
        if count == 0 || inherited == Some(fingerprint) {
            load_settings(|_| {});
        } else {
            load_settings(warn);
            mark_warned(fingerprint);
        }
    });
    set_errno(saved);
}

/// The variable that tells a process's children which warnings it printed:
/// a fingerprint of their text, so that a child whose environment holds
/// other invalid values still warns about those.
const WARNED: &str = "KEEPALIVE_PRELOAD_WARNED";

/// How many warnings this environment gives, and an FNV-1a hash of their
/// text (each line as printed).
fn warnings_fingerprint() -> (u32, u64) {
    let mut count = 0u32;
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let _ = env::read(var, |args| {
        let mut line = env::Line::new();
        let _ = write!(line, "{args}");
        for &b in line.as_bytes().iter().chain(b"\n") {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        count += 1;
    });
    (count, hash)
}

/// A fingerprint as `WARNED` holds it: 16 hexadecimal digits.
fn parse_fingerprint(text: &[u8]) -> Option<u64> {
    if text.len() != 16 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(text).ok()?, 16).ok()
}

/// Sets `WARNED` for the processes this one starts. Runs in the
/// constructor, before `main` (for `LD_PRELOAD`), when no other thread
/// reads the environment yet.
fn mark_warned(fingerprint: u64) {
    let mut value = [0u8; 17];
    let mut line = env::Line::new();
    let _ = write!(line, "{fingerprint:016x}");
    value[..16].copy_from_slice(&line.as_bytes()[..16]);
    let mut name = [0u8; 32];
    name[..WARNED.len()].copy_from_slice(WARNED.as_bytes());
    // SAFETY: both are NUL-terminated byte strings on the stack; setenv
    // copies them.
    unsafe { libc::setenv(name.as_ptr().cast(), value.as_ptr().cast(), 1) };
}

const UNREAD: u8 = 0;
const READING: u8 = 1;
const READY: u8 = 2;

/// Where the settings are: `UNREAD`, `READING` (the constructor is reading
/// the environment), `READY` (`SETTINGS` is written and never changes again).
static STATE: AtomicU8 = AtomicU8::new(UNREAD);

/// The settings, written once by the caller that moved `STATE` from
/// `UNREAD` to `READING`, read only after `STATE` is `READY`.
static SETTINGS: Slot<Wanted> = Slot(UnsafeCell::new(MaybeUninit::uninit()));

/// What to do with the program's own keepalive `setsockopt` calls
/// ([`enforce`]), written and published with `SETTINGS`.
static RULES: Slot<Rules> = Slot(UnsafeCell::new(MaybeUninit::uninit()));

struct Slot<T>(UnsafeCell<MaybeUninit<T>>);

// SAFETY: written once before `STATE` is set to `READY` with Release, read
// only after `STATE` is seen `READY` with Acquire.
unsafe impl<T: Sync> Sync for Slot<T> {}

/// Reads the environment once per process, reporting each invalid value
/// through `warn`, and publishes the result. A second call does nothing.
fn load_settings(warn: impl FnMut(fmt::Arguments<'_>)) {
    if STATE
        .compare_exchange(UNREAD, READING, Ordering::Acquire, Ordering::Acquire)
        .is_ok()
    {
        let wanted = env::read(var, warn);
        let rules = Rules::of(&wanted);
        // SAFETY: only the caller that won the exchange writes, once, and
        // nobody reads before `READY` is published below.
        unsafe {
            (*SETTINGS.0.get()).write(wanted);
            (*RULES.0.get()).write(rules);
        }
        STATE.store(READY, Ordering::Release);
    }
}

/// What the environment asks for: a copy of what the constructor read. A
/// `socket()` made before the constructor ran (from another library's
/// constructor) reads the environment itself, silently: warning is the
/// constructor's job, and `socket()` never writes.
fn wanted() -> Wanted {
    if STATE.load(Ordering::Acquire) == READY {
        // SAFETY: `READY` (seen with Acquire) means `SETTINGS` was written.
        unsafe { (*SETTINGS.0.get()).assume_init_read() }
    } else {
        env::read(var, |_| {})
    }
}

/// The rules for the program's own `setsockopt` calls, once the constructor
/// published them; `None` before.
pub(crate) fn rules() -> Option<&'static Rules> {
    if STATE.load(Ordering::Acquire) == READY {
        // SAFETY: `READY` (seen with Acquire) means `RULES` was written, and
        // it never changes again.
        Some(unsafe { (*RULES.0.get()).assume_init_ref() })
    } else {
        None
    }
}

/// Whether this process runs in secure-execution mode (`AT_SECURE`: a
/// setuid, setgid or file-capability program, reached only through
/// /etc/ld.so.preload or a setuid library in a system directory). Then the
/// environment belongs to a less privileged caller: its values are ignored
/// (the library acts as with an empty environment, keepalive on with the
/// system's defaults) and nothing is written to stderr.
fn secure_execution() -> bool {
    // SAFETY: getauxval reads the process's auxiliary vector; 0 when absent.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// A variable of the environment as the library may read it: the process's
/// own, or none at all in secure-execution mode (then the settings are
/// those of an empty environment, and no warning, nor the mark of one, is
/// made). Every read of the settings goes through here.
fn var(name: &str) -> Option<&'static [u8]> {
    if secure_execution() {
        None
    } else {
        getenv(name)
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

/// Writes one warning line to stderr in a single write(2), where
/// [`write_warning`] finds it safe: formatted on the stack, so it neither
/// allocates nor interleaves with other output.
pub(crate) fn warn(args: fmt::Arguments<'_>) {
    let mut line = env::Line::new();
    let _ = write!(line, "libkeepalive-preload: {args}");
    let mut bytes = [0u8; 322];
    let text = line.as_bytes();
    bytes[..text.len()].copy_from_slice(text);
    bytes[text.len()] = b'\n';
    write_warning(libc::STDERR_FILENO, &bytes[..text.len() + 1]);
}

/// Writes `bytes` to `fd` (stderr) only where that cannot hurt the program,
/// and says whether it did:
/// - `fd` must be open and not a socket: a closed stderr, or one that is a
///   service's client connection (inetd, systemd `StandardError=socket`),
///   must never get a line of ours as protocol data;
/// - it must be writable now (`poll` with a zero timeout): never block, and
///   skip a pipe whose reader is gone (`POLLERR`) or a hung-up terminal;
/// - `SIGPIPE` is blocked for the write, and a `SIGPIPE` the write raised
///   is taken back with a zero-timeout `sigtimedwait`, unless one was
///   already pending before (which is then left for the program).
fn write_warning(fd: c_int, bytes: &[u8]) -> bool {
    // SAFETY: `stat` is plain data; fstat fills it or fails.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a live, writable stat buffer.
    if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT == libc::S_IFSOCK {
        return false;
    }
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one live pollfd, zero timeout.
    let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
    if ready != 1
        || pfd.revents & libc::POLLOUT == 0
        || pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
    {
        return false;
    }
    write_without_sigpipe(fd, bytes) == bytes.len() as isize
}

/// write(2) with `SIGPIPE` blocked for this thread: returns what write
/// returned. A `SIGPIPE` the write raised (`EPIPE`) is taken back with a
/// zero-timeout `sigtimedwait` unless one was pending before, which is left
/// pending for the program; the signal mask is restored.
fn write_without_sigpipe(fd: c_int, bytes: &[u8]) -> isize {
    // SAFETY: sigset_t values are initialised by sigemptyset or filled by
    // the calls before they are read; every pointer is to a live local; the
    // write reads `bytes.len()` bytes from a live slice.
    unsafe {
        let mut pipe: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe);
        libc::sigaddset(&mut pipe, libc::SIGPIPE);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old) != 0 {
            return -1;
        }
        libc::sigemptyset(&mut pending);
        let was_pending =
            libc::sigpending(&mut pending) == 0 && libc::sigismember(&pending, libc::SIGPIPE) == 1;
        let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        if written < 0 && errno() == libc::EPIPE && !was_pending {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&pipe, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        written
    }
}

// ---- errno -----------------------------------------------------------------

pub(crate) fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno, always valid.
    unsafe { *libc::__errno_location() }
}

pub(crate) fn set_errno(value: c_int) {
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
            enforce: env::Enforce::Quiet,
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
            assert!(is_tcp(domain, SOCK_STREAM, 262)); // IPPROTO_MPTCP, as 0.3 does
            assert!(is_tcp(domain, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_MPTCP));
            assert!(!is_tcp(domain, SOCK_DGRAM, IPPROTO_MPTCP));
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

    /// An MPTCP socket takes keepalive, while its `TCP_USER_TIMEOUT` is
    /// refused (get: EOPNOTSUPP, set: ENOPROTOOPT): keepalive still applies.
    #[test]
    fn apply_sets_keepalive_on_an_mptcp_socket() {
        for domain in [libc::AF_INET, libc::AF_INET6] {
            // SAFETY: plain socket(2); the descriptor is owned below.
            let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM, libc::IPPROTO_MPTCP) };
            if fd < 0 {
                let e = std::io::Error::last_os_error();
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EPROTONOSUPPORT | libc::EINVAL | libc::ENOPROTOOPT)
                ) {
                    eprintln!("skipped: this kernel has no MPTCP ({e})");
                    return;
                }
                panic!("socket(IPPROTO_MPTCP): {e}");
            }
            // SAFETY: a fresh descriptor nobody else owns.
            let sock = unsafe { OwnedFd::from_raw_fd(fd) };
            apply(&sock.as_fd(), &full());
            let on = opt(&sock, libc::SOL_SOCKET, libc::SO_KEEPALIVE).unwrap();
            let idle = opt(&sock, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE).unwrap();
            let intvl = opt(&sock, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL).unwrap();
            let cnt = opt(&sock, libc::IPPROTO_TCP, libc::TCP_KEEPCNT).unwrap();
            assert_eq!([on, idle, intvl, cnt], [1, 60, 10, 5], "domain {domain}");
        }
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
    fn fingerprints_read_back_and_reject_anything_else() {
        let mut line = env::Line::new();
        let _ = write!(line, "{:016x}", 0x0123_4567_89ab_cdef_u64);
        assert_eq!(
            parse_fingerprint(line.as_bytes()),
            Some(0x0123_4567_89ab_cdef)
        );
        for bad in [&b""[..], b"123", b"0123456789abcdefg", b"zzzzzzzzzzzzzzzz"] {
            assert_eq!(parse_fingerprint(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn settings_are_read_at_load_and_then_copied() {
        // The constructor ran before any test did.
        assert_eq!(STATE.load(Ordering::Acquire), READY);
        let first = wanted();
        let mut warned = 0;
        load_settings(|_| warned += 1);
        assert_eq!(warned, 0, "a second load reads nothing");
        assert_eq!(wanted(), first);
    }

    // ---- where a warning may be written -------------------------------------

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [-1; 2];
        // SAFETY: a live two-int array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: two fresh descriptors nobody else owns.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    /// Runs `child` in a forked process (signal dispositions and masks are
    /// its own there) and returns its wait status. `child` may use only
    /// async-signal-safe calls: the test process has other threads.
    fn in_child(child: impl FnOnce() -> c_int) -> c_int {
        // SAFETY: the child calls only async-signal-safe functions, then _exit.
        match unsafe { libc::fork() } {
            0 => {
                let code = child();
                // SAFETY: ends the child without running the parent's atexit.
                unsafe { libc::_exit(code) }
            }
            pid => {
                assert!(pid > 0, "{}", std::io::Error::last_os_error());
                let mut status = 0;
                // SAFETY: our own child, a live status int.
                assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
                status
            }
        }
    }

    /// Whether SIGPIPE is pending for the calling thread or process.
    fn sigpipe_pending() -> bool {
        // SAFETY: a zeroed sigset filled by sigpending.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut set) == 0 && libc::sigismember(&set, libc::SIGPIPE) == 1
        }
    }

    #[test]
    fn warning_goes_to_a_file() {
        let path = std::env::temp_dir().join(format!("ka-preload-warn-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        assert!(write_warning(file.as_raw_fd(), b"line\n"));
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"line\n");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn warning_never_goes_to_a_socket_or_a_closed_descriptor() {
        let (ours, peer) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!write_warning(ours.as_raw_fd(), b"protocol data?\n"));
        peer.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        let got = std::io::Read::read(&mut &peer, &mut buf);
        assert_eq!(
            got.map_err(|e| e.kind()),
            Err(std::io::ErrorKind::WouldBlock),
            "nothing reached the peer"
        );
        assert!(!write_warning(1_000_000, b"nobody\n"));
    }

    #[test]
    fn warning_never_blocks_on_a_full_pipe() {
        let (_reader, writer) = pipe();
        let w = writer.as_raw_fd();
        // Fill the pipe without blocking, then make the write end blocking
        // again: a write now would block forever.
        // SAFETY: fcntl on our own descriptor.
        unsafe { libc::fcntl(w, libc::F_SETFL, libc::O_NONBLOCK) };
        let chunk = [0u8; 4096];
        // SAFETY: writes from a live buffer until the pipe is full.
        while unsafe { libc::write(w, chunk.as_ptr().cast(), chunk.len()) } > 0 {}
        // SAFETY: as above.
        unsafe { libc::fcntl(w, libc::F_SETFL, 0) };
        assert!(!write_warning(w, b"would block\n"));
    }

    #[test]
    fn warning_to_a_pipe_without_reader_raises_no_sigpipe() {
        let (reader, writer) = pipe();
        drop(reader);
        let status = in_child(|| {
            // SAFETY: the default action, which kills the process.
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
            let skipped = !write_warning(writer.as_raw_fd(), b"x\n");
            // Even past poll's check (a reader gone between poll and write):
            let rc = write_without_sigpipe(writer.as_raw_fd(), b"x\n");
            let epipe = rc == -1 && errno() == libc::EPIPE;
            if skipped && epipe && !sigpipe_pending() {
                0
            } else {
                1
            }
        });
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child status {status:#x} (signal {})",
            libc::WTERMSIG(status)
        );
    }

    #[test]
    fn a_sigpipe_pending_before_the_warning_is_left_pending() {
        let (reader, writer) = pipe();
        drop(reader);
        let status = in_child(|| {
            // SAFETY: blocks SIGPIPE in this (single-threaded) child and
            // makes one pending, as a program might have.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGPIPE);
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                libc::raise(libc::SIGPIPE);
            }
            let rc = write_without_sigpipe(writer.as_raw_fd(), b"x\n");
            c_int::from(!(rc == -1 && sigpipe_pending()))
        });
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }

    #[test]
    fn next_socket_is_found() {
        assert!(next_socket().is_some());
        assert!(!NEXT_SOCKET.load(Ordering::Acquire).is_null());
    }
}
