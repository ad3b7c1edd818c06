//! The warning writer: one line on stderr per warning, written only where
//! it cannot hurt the program ([`write_warning`]: never into a socket, never
//! blocking, never raising `SIGPIPE`), and once per program tree
//! ([`Fingerprint`]): a process that warned sets `KEEPALIVE_PRELOAD_WARNED`
//! in its own environment, and a child that would print the very same lines
//! stays silent (a wrapper script, pyenv's shims, `sh -c`).
//!
//! Nothing here allocates: lines are formatted into a buffer on the stack.

use std::ffi::c_int;
use std::fmt::{self, Write as _};

use crate::{env, errno};

/// Writes one warning line to stderr in a single write(2), where
/// [`write_warning`] finds it safe: formatted on the stack, so it neither
/// allocates nor interleaves with other output.
pub(crate) fn warn(args: fmt::Arguments<'_>) {
    let mut line = Line::new();
    let _ = write!(line, "libkeepalive-preload: {args}");
    let mut bytes = [0u8; LINE_MAX + 2];
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
        if written < 0 && errno::get() == libc::EPIPE && !was_pending {
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

// ---- once per program tree -------------------------------------------------

/// The variable that tells a process's children which warnings it printed:
/// a fingerprint of their text, so that a child whose environment holds
/// other invalid values still warns about those.
const WARNED: &str = "KEEPALIVE_PRELOAD_WARNED";

/// The warnings an environment gives: how many, and an FNV-1a hash of their
/// text (each line as printed).
#[derive(Debug)]
pub(crate) struct Fingerprint {
    count: u32,
    hash: u64,
}

impl Fingerprint {
    /// No warning yet.
    pub(crate) const fn new() -> Self {
        Fingerprint {
            count: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }

    /// Counts one warning.
    pub(crate) fn add(&mut self, args: fmt::Arguments<'_>) {
        let mut line = Line::new();
        let _ = write!(line, "{args}");
        for &b in line.as_bytes().iter().chain(b"\n") {
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.count += 1;
    }

    /// Whether these warnings are this process's to print: there are some,
    /// and the parent did not print these very ones (a wrapper script,
    /// pyenv's shims, a shell pipeline).
    pub(crate) fn is_due(&self) -> bool {
        self.count > 0 && env::var(WARNED).and_then(parse_fingerprint) != Some(self.hash)
    }

    /// Sets `WARNED` for the processes this one starts. Runs in the
    /// constructor, before `main` (for `LD_PRELOAD`), when no other thread
    /// reads the environment yet.
    pub(crate) fn mark(&self) {
        let mut value = [0u8; 17];
        let mut line = Line::new();
        let _ = write!(line, "{:016x}", self.hash);
        value[..16].copy_from_slice(&line.as_bytes()[..16]);
        let mut name = [0u8; 32];
        name[..WARNED.len()].copy_from_slice(WARNED.as_bytes());
        // SAFETY: both are NUL-terminated byte strings on the stack; setenv
        // copies them.
        unsafe { libc::setenv(name.as_ptr().cast(), value.as_ptr().cast(), 1) };
    }
}

/// A fingerprint as `WARNED` holds it: 16 hexadecimal digits.
fn parse_fingerprint(text: &[u8]) -> Option<u64> {
    if text.len() != 16 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(text).ok()?, 16).ok()
}

// ---- a line on the stack -----------------------------------------------------

/// The longest line, in bytes; a longer one is cut.
const LINE_MAX: usize = 320;

/// A line of text formatted on the stack, cut when it does not fit.
struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    const fn new() -> Self {
        Line {
            buf: [0; LINE_MAX],
            len: 0,
        }
    }

    /// The text so far.
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        // A cut line is still a line: never an error, so nothing panics.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    #[test]
    fn fingerprints_read_back_and_reject_anything_else() {
        let mut line = Line::new();
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
    fn line_cuts_instead_of_failing() {
        let mut line = Line::new();
        for _ in 0..100 {
            write!(line, "0123456789").unwrap();
        }
        assert_eq!(line.as_bytes().len(), LINE_MAX);
        assert!(line.as_bytes().iter().all(u8::is_ascii_digit));
    }

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
            let epipe = rc == -1 && errno::get() == libc::EPIPE;
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
}
