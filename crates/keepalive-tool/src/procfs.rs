//! What `/proc` says about a process: its command, its descriptors, and the
//! TCP sockets of its network namespace. Reading only; nothing here decides
//! anything about keepalive.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;

/// A process id.
pub type Pid = u32;

/// A descriptor of a process that is a socket, as `/proc/PID/fd` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketFd {
    pub fd: i32,
    /// The socket's inode (`socket:[INODE]`), which `fstat` on a duplicate
    /// of the descriptor reports as `st_ino`.
    pub inode: u64,
}

fn dir(pid: Pid) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}"))
}

/// Every process in `/proc` (thread-group leaders only, as `/proc` lists
/// them), ascending.
pub fn pids() -> io::Result<Vec<Pid>> {
    let mut pids: Vec<Pid> = fs::read_dir("/proc")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// Whether `/proc/PID` exists (threads' ids included, which `/proc` does not
/// list but answers).
pub fn exists(pid: Pid) -> bool {
    fs::metadata(dir(pid)).is_ok()
}

/// The command name (`/proc/PID/comm`), `?` when it cannot be read.
pub fn comm(pid: Pid) -> String {
    fs::read_to_string(dir(pid).join("comm"))
        .map(|s| s.trim_end_matches('\n').to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The command name as the kernel keeps it (any bytes but NUL), without
/// its newline; `None` when it cannot be read.
pub fn comm_bytes(pid: Pid) -> Option<Vec<u8>> {
    let mut comm = fs::read(dir(pid).join("comm")).ok()?;
    if comm.last() == Some(&b'\n') {
        comm.pop();
    }
    Some(comm)
}

/// A field of `/proc/PID/status`, such as `Tgid` or `Uid`: its first word.
fn status_field(pid: Pid, name: &str) -> Option<u32> {
    let text = fs::read_to_string(dir(pid).join("status")).ok()?;
    parse_status_field(&text, name)
}

fn parse_status_field(text: &str, name: &str) -> Option<u32> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// The process a thread belongs to (`Tgid`); the pid itself for a process.
pub fn tgid(pid: Pid) -> Option<Pid> {
    status_field(pid, "Tgid")
}

/// The real user id the process runs as.
pub fn uid(pid: Pid) -> Option<u32> {
    status_field(pid, "Uid")
}

/// What `/proc/PID/fd/FD` points at: `socket:[123]`, `pipe:[456]`,
/// `/dev/null`, ...
pub fn fd_link(pid: Pid, fd: i32) -> io::Result<String> {
    let link = fs::read_link(dir(pid).join("fd").join(fd.to_string()))?;
    Ok(link.to_string_lossy().into_owned())
}

/// The inode of a `socket:[INODE]` link; `None` for anything else.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The process's descriptors that are sockets, ascending. Reading
/// `/proc/PID/fd` needs the rights `ptrace` read access needs; the error is
/// the kernel's (`EACCES`, or `ENOENT` for a process gone).
pub fn socket_fds(pid: Pid) -> io::Result<Vec<SocketFd>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir(pid).join("fd"))? {
        let entry = entry?;
        let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        match fs::read_link(entry.path()) {
            Ok(link) => {
                if let Some(inode) = link.to_str().and_then(socket_inode) {
                    found.push(SocketFd { fd, inode });
                }
            }
            // Closed between listing and reading: not there any more.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    found.sort_unstable_by_key(|s| s.fd);
    Ok(found)
}

/// The inodes listed in the text of `/proc/net/tcp` or `tcp6` (the tenth
/// column; the first line is a header). MPTCP sockets are listed there too.
pub fn parse_tcp_table(text: &str) -> impl Iterator<Item = u64> + '_ {
    text.lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(9)?.parse().ok())
        .filter(|&inode| inode != 0)
}

/// The inodes of every TCP socket (IPv4 and IPv6) in the network namespace
/// of PID, from `/proc/PID/net/tcp` and `tcp6`. A kernel without IPv6 has no
/// `tcp6`.
fn read_tcp_inodes(pid: Pid) -> io::Result<HashSet<u64>> {
    let mut inodes = HashSet::new();
    for (file, required) in [("tcp", true), ("tcp6", false)] {
        match fs::read_to_string(dir(pid).join("net").join(file)) {
            Ok(text) => inodes.extend(parse_tcp_table(&text)),
            Err(e) if !required && e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(inodes)
}

/// The network namespace of PID (`net:[4026531840]`).
pub fn netns(pid: Pid) -> Option<String> {
    fs::read_link(dir(pid).join("ns").join("net"))
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

/// The calling process's network namespace.
pub fn own_netns() -> Option<String> {
    fs::read_link("/proc/self/ns/net")
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

/// TCP inodes per network namespace, read once for all the processes that
/// share one.
#[derive(Debug, Default)]
pub struct TcpTables {
    by_netns: HashMap<String, Rc<HashSet<u64>>>,
}

impl TcpTables {
    /// The inodes of the TCP sockets in PID's network namespace.
    pub fn of(&mut self, pid: Pid) -> io::Result<Rc<HashSet<u64>>> {
        let Some(ns) = netns(pid) else {
            return read_tcp_inodes(pid).map(Rc::new);
        };
        if let Some(inodes) = self.by_netns.get(&ns) {
            return Ok(Rc::clone(inodes));
        }
        let inodes = Rc::new(read_tcp_inodes(pid)?);
        self.by_netns.insert(ns, Rc::clone(&inodes));
        Ok(inodes)
    }
}

/// The user namespace of PID (`user:[4026531837]`), where it can be read.
pub fn user_ns(pid: Pid) -> Option<String> {
    fs::read_link(dir(pid).join("ns").join("user"))
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

/// Whether the calling process holds capability number `cap` in its
/// effective set (`CapEff` of /proc/self/status); false where unreadable.
pub fn own_capability(cap: u32) -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| cap_mask(&status, "CapEff:"))
        .is_some_and(|set| cap < 64 && set & (1 << cap) != 0)
}

/// The capabilities PID may hold (`CapPrm`) that the calling process may
/// not: the kernel refuses ptrace access to a process with capabilities the
/// caller lacks, even to root with CAP_SYS_PTRACE, across user namespaces.
pub fn capabilities_beyond_ours(pid: Pid) -> Option<u64> {
    let theirs = cap_mask(
        &fs::read_to_string(dir(pid).join("status")).ok()?,
        "CapPrm:",
    )?;
    let ours = cap_mask(&fs::read_to_string("/proc/self/status").ok()?, "CapPrm:")?;
    Some(theirs & !ours)
}

/// A capability mask of a /proc/PID/status text (`field` is `CapEff:`,
/// `CapPrm:`, ...).
fn cap_mask(status: &str, field: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix(field))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// The names of the capabilities in `mask` (linux/capability.h), lower
/// case as capabilities(7) writes them after `CAP_`.
pub fn capability_names(mask: u64) -> Vec<String> {
    const NAMES: [&str; 41] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    (0..64)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| {
            NAMES
                .get(bit)
                .map_or_else(|| format!("capability {bit}"), |n| (*n).to_string())
        })
        .collect()
}

/// Yama's `ptrace_scope`, when the Yama security module is active.
pub fn ptrace_scope() -> Option<u8> {
    fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_masks() {
        assert_eq!(
            cap_mask(
                "Name:\tx\nCapEff:\t000001ffffffffff\nCapBnd:\t0\n",
                "CapEff:"
            ),
            Some(0x1ff_ffff_ffff)
        );
        assert_eq!(cap_mask("Name:\tx\n", "CapEff:"), None);
        assert_eq!(
            capability_names((1 << 19) | (1 << 24) | (1 << 45)),
            ["CAP_SYS_PTRACE", "CAP_SYS_RESOURCE", "capability 45"]
        );
        assert_eq!(capabilities_beyond_ours(std::process::id()), Some(0));
        // Root's read of its own status agrees with what it may do.
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                !own_capability(19),
                "an unprivileged test run has CAP_SYS_PTRACE"
            );
        }
        assert!(user_ns(std::process::id()).is_some_and(|n| n.starts_with("user:[")));
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode("socket:[4242]"), Some(4242));
        assert_eq!(socket_inode("pipe:[4242]"), None);
        assert_eq!(socket_inode("socket:[x]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[test]
    fn tcp_table_inodes() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A2C4 0100007F:1F90 06 00000000:00000000 03:000010D7 00000000     0        0 0 3 0000000000000000
   2: 0100007F:1F90 0100007F:A2C6 01 00000000:00000000 02:0000F9B9 00000000  1000        0 424242 2 0000000000000000 20 4 30 10 -1
";
        let inodes: Vec<u64> = parse_tcp_table(text).collect();
        // TIME_WAIT entries have inode 0: no socket to take.
        assert_eq!(inodes, vec![31337, 424242]);
    }

    #[test]
    fn status_fields() {
        let text = "Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t812\nNgid:\t0\nPid:\t815\nUid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(parse_status_field(text, "Tgid"), Some(812));
        assert_eq!(parse_status_field(text, "Pid"), Some(815));
        assert_eq!(parse_status_field(text, "Uid"), Some(1000));
        assert_eq!(parse_status_field(text, "Gid"), None);
    }

    #[test]
    fn this_process_is_seen() {
        let me = std::process::id();
        assert!(exists(me));
        assert!(pids().unwrap().contains(&me));
        assert_eq!(tgid(me), Some(me));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fds = socket_fds(me).unwrap();
        use std::os::fd::AsRawFd;
        let mine = fds.iter().find(|s| s.fd == listener.as_raw_fd()).unwrap();
        assert!(TcpTables::default().of(me).unwrap().contains(&mine.inode));
    }
}
