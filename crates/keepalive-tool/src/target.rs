//! Taking another process's TCP sockets: `pidfd_open(2)` + `pidfd_getfd(2)`
//! give this process a duplicate of the target's descriptor, and socket
//! options belong to the socket, not the descriptor, so the core's calls on
//! the duplicate read and retune the target's connection. No stop, no
//! injection. The kernel allows it to whoever may `ptrace` the target
//! (`PTRACE_MODE_ATTACH_REALCREDS`).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use socket2::{Domain, Protocol, SockRef, Type};

use crate::procfs::{self, Pid, SocketFd, TcpTables};

/// Which kind of TCP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Mptcp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Mptcp => "mptcp",
        }
    }
}

/// One TCP socket of a target process, held through our duplicate of its
/// descriptor.
#[derive(Debug)]
pub struct Socket {
    pub pid: Pid,
    pub fd: i32,
    pub inode: u64,
    pub protocol: Proto,
    /// Our duplicate: the same socket as the target's `fd`.
    pub handle: OwnedFd,
}

impl Socket {
    pub fn local(&self) -> Option<SocketAddr> {
        SockRef::from(&self.handle).local_addr().ok()?.as_socket()
    }

    /// The peer; `None` for a listener or a socket not connected.
    pub fn remote(&self) -> Option<SocketAddr> {
        SockRef::from(&self.handle).peer_addr().ok()?.as_socket()
    }
}

/// Why a process's sockets could not be taken.
#[derive(Debug)]
pub enum Denied {
    /// No such process, or it exited meanwhile.
    Gone,
    /// The id is a thread's; the process is this one.
    Thread(Pid),
    /// The kernel refused: no ptrace rights over the target.
    Permission { step: String, err: io::Error },
    /// This kernel has no `pidfd_open`/`pidfd_getfd` (before Linux 5.6).
    NoPidfd { call: &'static str },
    /// Anything else, with the step that failed.
    Io { step: String, err: io::Error },
}

impl Denied {
    fn from_io(step: String, err: io::Error) -> Denied {
        match err.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => Denied::Permission { step, err },
            Some(libc::ESRCH | libc::ENOENT) => Denied::Gone,
            _ => Denied::Io { step, err },
        }
    }
}

/// A process's TCP sockets, taken, and the ones listed but not taken.
#[derive(Debug, Default)]
pub struct Taken {
    pub sockets: Vec<Socket>,
    /// (fd, why): the descriptor changed or closed between listing and
    /// taking it.
    pub skipped: Vec<(i32, String)>,
}

/// Why one descriptor cannot be retuned.
#[derive(Debug)]
pub enum FdProblem {
    Denied(Denied),
    /// The process has no such descriptor.
    NoSuchFd,
    /// It is not a TCP socket: what it is instead ("a pipe", "a UDP socket").
    NotTcp(String),
}

fn pidfd_open(pid: Pid) -> Result<OwnedFd, Denied> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| Denied::Gone)?;
    // SAFETY: pidfd_open takes a pid and flags by value and returns a new
    // descriptor or -1; no memory is passed.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        return Err(match err.raw_os_error() {
            Some(libc::ENOSYS) => Denied::NoPidfd { call: "pidfd_open" },
            Some(libc::EINVAL) => {
                // pidfd_open refuses a thread's id (without PIDFD_THREAD).
                match procfs::tgid(pid as Pid) {
                    Some(tgid) if tgid != pid as Pid => Denied::Thread(tgid),
                    _ => Denied::Io {
                        step: "pidfd_open".into(),
                        err,
                    },
                }
            }
            _ => Denied::from_io("pidfd_open".into(), err),
        });
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

/// Outcome of `pidfd_getfd` for one descriptor.
enum Got {
    Fd(OwnedFd),
    /// Closed in the target since it was listed (`EBADF`).
    Closed,
}

fn pidfd_getfd(pidfd: &OwnedFd, pid: Pid, fd: i32) -> Result<Got, Denied> {
    // SAFETY: pidfd_getfd takes two descriptors and flags by value and
    // returns a new descriptor (close-on-exec) or -1; no memory is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_getfd,
            pidfd.as_raw_fd(),
            fd,
            0 as libc::c_uint,
        )
    };
    if rc < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::EBADF) => Ok(Got::Closed),
            Some(libc::ENOSYS) => Err(Denied::NoPidfd {
                call: "pidfd_getfd",
            }),
            _ => Err(Denied::from_io(
                format!("pidfd_getfd of pid {pid} fd {fd}"),
                err,
            )),
        };
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(Got::Fd(unsafe { OwnedFd::from_raw_fd(rc as RawFd) }))
}

fn inode_of(fd: &OwnedFd) -> io::Result<u64> {
    // SAFETY: an all-zero `stat` is a valid value of the plain-data struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a live local the kernel fills; `fd` is open.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    if rc == 0 {
        Ok(st.st_ino)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// TCP or MPTCP, IPv4 or IPv6, stream: the sockets keepalive applies to.
/// Otherwise, what the descriptor is instead.
fn tcp_kind(fd: &impl AsFd) -> Result<Proto, String> {
    let sock = SockRef::from(fd);
    let domain = match sock.domain() {
        Ok(d) => d,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => return Err("not a socket".into()),
        Err(e) => return Err(format!("a socket whose family cannot be read ({e})")),
    };
    let ty = sock.r#type().ok();
    let protocol = sock.protocol().ok().flatten();
    if domain == Domain::IPV4 || domain == Domain::IPV6 {
        let ip = if domain == Domain::IPV4 {
            "IPv4"
        } else {
            "IPv6"
        };
        match (ty, protocol) {
            (Some(Type::STREAM), Some(Protocol::TCP)) => return Ok(Proto::Tcp),
            (Some(Type::STREAM), Some(Protocol::MPTCP)) => return Ok(Proto::Mptcp),
            (_, Some(Protocol::UDP)) => return Err(format!("a UDP socket ({ip})")),
            (Some(Type::RAW), _) => return Err(format!("a raw socket ({ip})")),
            (_, Some(p)) => return Err(format!("an {ip} socket of protocol {p:?}")),
            _ => return Err(format!("an {ip} socket that is not TCP")),
        }
    }
    Err(match domain {
        Domain::UNIX => "a Unix domain socket".to_string(),
        Domain::PACKET => "a packet socket".to_string(),
        d if d == Domain::from(libc::AF_NETLINK) => "a netlink socket".to_string(),
        d => format!("a socket of family {d:?}"),
    })
}

/// What a `/proc/PID/fd` link that is not a socket stands for.
pub fn describe_link(link: &str) -> String {
    if link.starts_with("pipe:[") {
        "a pipe".into()
    } else if let Some(kind) = link.strip_prefix("anon_inode:") {
        format!("an anonymous inode ({kind})")
    } else if link.starts_with('/') {
        format!("a file ({link})")
    } else {
        link.to_string()
    }
}

/// Takes a duplicate of `fd`, checks that it still is the socket listed
/// (the number may have been closed and reused meanwhile) and that it is
/// TCP. `Ok(Err(why))` when it was not taken for one of those reasons.
fn take_listed(
    pidfd: &OwnedFd,
    pid: Pid,
    listed: SocketFd,
) -> Result<Result<Socket, String>, Denied> {
    let handle = match pidfd_getfd(pidfd, pid, listed.fd)? {
        Got::Fd(h) => h,
        Got::Closed => return Ok(Err("closed since it was listed".into())),
    };
    match inode_of(&handle) {
        Ok(inode) if inode == listed.inode => {}
        Ok(inode) => {
            return Ok(Err(format!(
                "the descriptor was reused: socket:[{}] was listed, inode {inode} was taken",
                listed.inode
            )))
        }
        Err(e) => return Ok(Err(format!("fstat of the duplicate failed: {e}"))),
    }
    // Its inode is in the TCP table: an IPv4 or IPv6 stream socket of TCP
    // or MPTCP. One read tells which (not three, as `tcp_kind` makes).
    let protocol = match SockRef::from(&handle).protocol() {
        Ok(Some(Protocol::MPTCP)) => Proto::Mptcp,
        Ok(_) => Proto::Tcp,
        Err(e) => return Ok(Err(format!("its protocol cannot be read: {e}"))),
    };
    Ok(Ok(Socket {
        pid,
        fd: listed.fd,
        inode: listed.inode,
        protocol,
        handle,
    }))
}

/// Raises this process's soft limit on open descriptors to the hard one
/// (the soft limit is 1024 by default, far below what a busy server holds),
/// once, and returns how many duplicates to hold at a time: a quarter of
/// the limit, 8..=1024, so that a process with any number of sockets is
/// taken in batches and the limit is never what stops us.
pub fn batch_size() -> usize {
    static BATCH: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BATCH.get_or_init(|| {
        // SAFETY: an all-zero rlimit is a valid value of the plain-data struct.
        let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
        // SAFETY: getrlimit writes one rlimit into the live local `lim`.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return 8;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            // SAFETY: setrlimit reads the live local `raised`. Raising the
            // soft limit up to the hard one needs no privilege.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                lim = raised;
            }
        }
        usize::try_from(lim.rlim_cur / 4)
            .unwrap_or(usize::MAX)
            .clamp(8, 1024)
    })
}

/// Whether `pid` names a whole process, as `show PID` and `set` require
/// before anything else: `Gone` when no such process exists, `Thread` when
/// the id is one of its threads'.
pub fn whole_process(pid: Pid) -> Result<(), Denied> {
    if !procfs::exists(pid) {
        return Err(Denied::Gone);
    }
    match procfs::tgid(pid) {
        Some(tgid) if tgid != pid => Err(Denied::Thread(tgid)),
        _ => Ok(()),
    }
}

/// Every TCP socket of the process, in batches of at most `batch` (see
/// [`batch_size`]): descriptors whose socket is listed in its network
/// namespace's `/proc/net/tcp` or `tcp6`, taken and handed to `each` one
/// batch at a time; the duplicates of a batch are closed when `each`
/// returns, before the next batch is taken. Nothing is taken when the
/// process has none (no `pidfd_open` either). The first batch is taken
/// before `each` sees any socket, so that a refusal (permission, an old
/// kernel) comes before anything is done; an `Err` after that (the process
/// exited, say) comes after the batches `each` was given.
pub fn take_tcp(
    pid: Pid,
    tables: &mut TcpTables,
    batch: usize,
    mut each: impl FnMut(Taken),
) -> Result<(), Denied> {
    let fds = procfs::socket_fds(pid)
        .map_err(|e| Denied::from_io(format!("reading /proc/{pid}/fd"), e))?;
    if fds.is_empty() {
        return Ok(());
    }
    let tcp = tables
        .of(pid)
        .map_err(|e| Denied::from_io(format!("reading /proc/{pid}/net/tcp"), e))?;
    let listed: Vec<SocketFd> = fds.into_iter().filter(|s| tcp.contains(&s.inode)).collect();
    if listed.is_empty() {
        return Ok(());
    }
    let pidfd = pidfd_open(pid)?;
    for chunk in listed.chunks(batch.max(1)) {
        let mut taken = Taken::default();
        for &s in chunk {
            match take_listed(&pidfd, pid, s)? {
                Ok(sock) => taken.sockets.push(sock),
                Err(why) => taken.skipped.push((s.fd, why)),
            }
        }
        each(taken);
    }
    Ok(())
}

/// Takes one descriptor, which must be a TCP socket.
pub fn take_fd(pid: Pid, fd: i32) -> Result<Socket, FdProblem> {
    let link = match procfs::fd_link(pid, fd) {
        Ok(link) => link,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(if procfs::exists(pid) {
                FdProblem::NoSuchFd
            } else {
                FdProblem::Denied(Denied::Gone)
            })
        }
        Err(e) => {
            return Err(FdProblem::Denied(Denied::from_io(
                format!("reading /proc/{pid}/fd/{fd}"),
                e,
            )))
        }
    };
    let Some(inode) = procfs::socket_inode(&link) else {
        return Err(FdProblem::NotTcp(describe_link(&link)));
    };
    let pidfd = pidfd_open(pid).map_err(FdProblem::Denied)?;
    let handle = match pidfd_getfd(&pidfd, pid, fd).map_err(FdProblem::Denied)? {
        Got::Fd(h) => h,
        Got::Closed => return Err(FdProblem::NoSuchFd),
    };
    match inode_of(&handle) {
        Ok(got) if got == inode => {}
        _ => {
            return Err(FdProblem::Denied(Denied::Io {
                step: format!("taking pid {pid} fd {fd}"),
                err: io::Error::other("the descriptor changed while it was being taken; try again"),
            }))
        }
    }
    let protocol = tcp_kind(&handle).map_err(FdProblem::NotTcp)?;
    Ok(Socket {
        pid,
        fd,
        inode,
        protocol,
        handle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn kinds_of_descriptor() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(tcp_kind(&tcp), Ok(Proto::Tcp));
        let tcp6 = socket2::Socket::new(Domain::IPV6, Type::STREAM, None).unwrap();
        assert_eq!(tcp_kind(&tcp6), Ok(Proto::Tcp));
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(tcp_kind(&udp), Err("a UDP socket (IPv4)".into()));
        let (unix, _) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(tcp_kind(&unix), Err("a Unix domain socket".into()));
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(tcp_kind(&file), Err("not a socket".into()));
        if let Ok(mptcp) = socket2::Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::MPTCP)) {
            assert_eq!(tcp_kind(&mptcp), Ok(Proto::Mptcp));
        }
    }

    #[test]
    fn links_described() {
        assert_eq!(describe_link("pipe:[123]"), "a pipe");
        assert_eq!(
            describe_link("anon_inode:[eventfd]"),
            "an anonymous inode ([eventfd])"
        );
        assert_eq!(describe_link("/dev/null"), "a file (/dev/null)");
    }

    /// This process is its own target: the duplicate is the same socket.
    #[test]
    fn take_own_sockets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let me = std::process::id();
        let mut taken = Taken::default();
        let all = take_tcp(me, &mut TcpTables::default(), 1024, |t| {
            taken.sockets.extend(t.sockets)
        });
        match all {
            Err(Denied::NoPidfd { .. }) => return eprintln!("skipped: no pidfd_getfd here"),
            other => other.unwrap(),
        }
        let sock = taken
            .sockets
            .iter()
            .find(|s| s.fd == listener.as_raw_fd())
            .expect("the listener is found");
        assert_eq!(sock.local(), Some(listener.local_addr().unwrap()));
        assert_eq!(sock.remote(), None);
        keepalive::set_deadline(&sock.handle, std::time::Duration::from_secs(9)).unwrap();
        assert!(keepalive::get(&listener).unwrap().enabled);

        let one = take_fd(me, listener.as_raw_fd()).unwrap();
        assert_eq!(one.inode, sock.inode);
        let mut ends = [0; 2];
        // SAFETY: pipe writes two descriptors into the live array.
        assert_eq!(unsafe { libc::pipe(ends.as_mut_ptr()) }, 0);
        // SAFETY: both are new descriptors that nothing else owns.
        let _pipe = ends.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        assert!(matches!(take_fd(me, ends[0]), Err(FdProblem::NotTcp(w)) if w == "a pipe"));
        assert!(matches!(take_fd(me, 99999), Err(FdProblem::NoSuchFd)));
    }

    /// Batches of 2: every socket is seen once, never more than 2 held.
    #[test]
    fn sockets_come_in_batches() {
        let listeners: Vec<_> = (0..5)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let mine: Vec<i32> = listeners.iter().map(|l| l.as_raw_fd()).collect();
        let mut seen = Vec::new();
        let mut largest = 0;
        let all = take_tcp(std::process::id(), &mut TcpTables::default(), 2, |t| {
            largest = largest.max(t.sockets.len() + t.skipped.len());
            seen.extend(t.sockets.iter().map(|s| s.fd));
        });
        if let Err(Denied::NoPidfd { .. }) = all {
            return eprintln!("skipped: no pidfd_getfd here");
        }
        all.unwrap();
        assert!(largest <= 2, "a batch of {largest}");
        for fd in mine {
            assert_eq!(seen.iter().filter(|&&s| s == fd).count(), 1, "fd {fd}");
        }
        assert!((8..=1024).contains(&batch_size()));
    }
}
