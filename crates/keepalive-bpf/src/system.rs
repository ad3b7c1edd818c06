//! What the loader needs to know about this machine: where cgroup v2 and the
//! BPF filesystem are mounted (from /proc/mounts, never assumed), whether a
//! path is a cgroup v2 directory and its id, and the caller's capabilities.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// `statfs` magic numbers (<linux/magic.h>).
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;

/// The mount points of filesystems of type `fstype`, in /proc/mounts order.
pub(crate) fn mounts_of(fstype: &str) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string("/proc/mounts") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let (_, dir, kind) = (fields.next()?, fields.next()?, fields.next()?);
            (kind == fstype).then(|| PathBuf::from(unescape_mount(dir)))
        })
        .collect()
}

/// /proc/mounts writes a space, tab, newline and backslash as `\040`, ...
fn unescape_mount(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let oct = bytes
            .get(i + 1..i + 4)
            .filter(|o| o.iter().all(|b| (b'0'..=b'7').contains(b)));
        if let (b'\\', Some(oct)) = (bytes[i], oct) {
            if let Ok(b) = u8::from_str_radix(std::str::from_utf8(oct).unwrap_or(""), 8) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first cgroup v2 mount point.
pub(crate) fn cgroup2_mount() -> Result<PathBuf, Error> {
    mounts_of("cgroup2")
        .into_iter()
        .next()
        .ok_or(Error::NoCgroup2)
}

/// Where systemd and bpftool mount the BPF filesystem.
const STANDARD_BPFFS: &str = "/sys/fs/bpf";

/// The BPF filesystem to pin in: /sys/fs/bpf where it is mounted there (as
/// systemd does), else the first one /proc/mounts lists.
pub(crate) fn bpffs() -> Result<PathBuf, Error> {
    let all = mounts_of("bpf");
    let standard = Path::new(STANDARD_BPFFS);
    if all.iter().any(|p| p == standard) {
        return Ok(standard.to_path_buf());
    }
    all.into_iter().next().ok_or(Error::NoBpffs)
}

/// [`bpffs`], mounting one at /sys/fs/bpf (mode 0700) when none is mounted,
/// as bpftool does; the second value says whether this call mounted it.
pub(crate) fn bpffs_or_mount() -> Result<(PathBuf, bool), Error> {
    match bpffs() {
        Ok(path) => return Ok((path, false)),
        Err(Error::NoBpffs) => {}
        Err(e) => return Err(e),
    }
    let what = || {
        format!(
            "mounting the BPF filesystem at {STANDARD_BPFFS} (none was mounted; \
             `mount -t bpf bpf {STANDARD_BPFFS}` does it by hand)"
        )
    };
    let c = |s: &str| std::ffi::CString::new(s).expect("no NUL");
    let (src, target, kind, opts) = (c("bpf"), c(STANDARD_BPFFS), c("bpf"), c("mode=0700"));
    // SAFETY: NUL-terminated strings that outlive the call.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            kind.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            opts.as_ptr().cast(),
        )
    };
    if r != 0 {
        return Err(Error::os(what(), io::Error::last_os_error()));
    }
    Ok((PathBuf::from(STANDARD_BPFFS), true))
}

/// Unmounts what [`bpffs_or_mount`] mounted, when the attach it was for
/// failed; best effort.
pub(crate) fn unmount(path: &Path) {
    if let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) {
        // SAFETY: a NUL-terminated path.
        unsafe { libc::umount2(c.as_ptr(), 0) };
    }
}

/// A cgroup v2 directory, opened: the descriptor programs attach to.
#[derive(Debug)]
pub(crate) struct Cgroup {
    /// The path, made absolute.
    pub(crate) path: PathBuf,
    /// The cgroup id (the directory's inode number on cgroup2), as
    /// `bpftool cgroup show` and bpf_get_current_cgroup_id() give it.
    pub(crate) id: u64,
    pub(crate) dir: OwnedFd,
}

impl Cgroup {
    /// Opens `path` and checks that it is a cgroup v2 directory.
    pub(crate) fn open(path: &Path) -> Result<Cgroup, Error> {
        let not = |why: String| Error::NotACgroup {
            path: path.to_path_buf(),
            why,
        };
        let meta = fs::metadata(path).map_err(|e| not(crate::error_text(&e)))?;
        if !meta.is_dir() {
            return Err(not("not a directory".into()));
        }
        let dir = fs::File::open(path).map_err(|e| not(crate::error_text(&e)))?;
        let magic =
            fs_magic(&dir).map_err(|e| not(format!("statfs: {}", crate::error_text(&e))))?;
        if magic != CGROUP2_SUPER_MAGIC {
            let v2 = cgroup2_mount()?;
            let hint = match path.strip_prefix("/") {
                Ok(rel) if v2.join(rel).is_dir() && !path.starts_with(&v2) => {
                    format!("; did you mean {}?", v2.join(rel).display())
                }
                _ => format!("; cgroup v2 is mounted at {}", v2.display()),
            };
            let what = if magic == CGROUP_SUPER_MAGIC {
                "a cgroup v1 directory (BPF programs attach to cgroup v2 only)"
            } else {
                "not on a cgroup v2 filesystem"
            };
            return Err(not(format!("{what}{hint}")));
        }
        let path = fs::canonicalize(path).map_err(|e| not(crate::error_text(&e)))?;
        Ok(Cgroup {
            path,
            id: meta.ino(),
            dir: dir.into(),
        })
    }

    /// Every process of the cgroup and of the cgroups below it, ascending.
    pub(crate) fn processes(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        let mut dirs = vec![self.path.clone()];
        while let Some(dir) = dirs.pop() {
            if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
                pids.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
            }
            dirs.extend(subdirectories(&dir));
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }
}

fn fs_magic(file: &fs::File) -> io::Result<i64> {
    // SAFETY: statfs is plain old data; fstatfs fills it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and a pointer to a statfs.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_type as i64)
}

/// The path of the cgroup v2 directory with inode `id`, if one of the
/// cgroup v2 mounts of this mount namespace shows it (a cgroup namespace,
/// or a mount of part of the tree, may not: then `None`, which says
/// nothing of whether it exists).
pub(crate) fn cgroup_path(id: u64) -> Option<PathBuf> {
    let mut dirs = mounts_of("cgroup2");
    while let Some(dir) = dirs.pop() {
        if fs::metadata(&dir).is_ok_and(|m| m.ino() == id) {
            return Some(dir);
        }
        dirs.extend(subdirectories(&dir));
    }
    None
}

/// The directories in `dir` (none when it cannot be read: a cgroup removed
/// meanwhile), for the walks down a cgroup tree.
fn subdirectories(dir: &Path) -> impl Iterator<Item = PathBuf> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
}

/// Capabilities by number (<linux/capability.h>).
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The capabilities loading the programs needs that this process lacks in
/// its effective set: CAP_SYS_ADMIN covers all; otherwise CAP_BPF to load,
/// CAP_PERFMON to read struct tcp_sock, CAP_NET_ADMIN to attach.
pub(crate) fn missing_capabilities() -> Vec<&'static str> {
    lacking(&[
        (CAP_BPF, "CAP_BPF"),
        (CAP_PERFMON, "CAP_PERFMON"),
        (CAP_NET_ADMIN, "CAP_NET_ADMIN"),
    ])
}

/// The capabilities `keepalive watch` needs that this process lacks:
/// CAP_BPF to load, CAP_PERFMON to attach to a tracepoint and read kernel
/// structures; CAP_SYS_ADMIN covers both.
pub(crate) fn missing_watch_capabilities() -> Vec<&'static str> {
    lacking(&[(CAP_BPF, "CAP_BPF"), (CAP_PERFMON, "CAP_PERFMON")])
}

/// Those of `needed` this process lacks in its effective set.
/// CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON, not CAP_NET_ADMIN.
fn lacking(needed: &[(u32, &'static str)]) -> Vec<&'static str> {
    let eff = effective_capabilities().unwrap_or(0);
    let has = |cap: u32| eff & (1u64 << cap) != 0;
    needed
        .iter()
        .filter(|&&(cap, _)| !has(cap) && (cap == CAP_NET_ADMIN || !has(CAP_SYS_ADMIN)))
        .map(|&(_, name)| name)
        .collect()
}

fn effective_capabilities() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_fields_are_unescaped() {
        assert_eq!(
            unescape_mount("/sys/fs/cgroup/unified"),
            "/sys/fs/cgroup/unified"
        );
        assert_eq!(unescape_mount("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mount("/x\\"), "/x\\");
    }

    #[test]
    fn a_plain_directory_is_not_a_cgroup() {
        let err = Cgroup::open(Path::new("/tmp")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/tmp: not a cgroup v2 directory: "),
            "{err}"
        );
        let err = Cgroup::open(Path::new("/nonexistent/cg")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/nonexistent/cg: not a cgroup v2 directory: No such file or directory"
        );
        let err = Cgroup::open(Path::new("/proc/self/status")).unwrap_err();
        assert!(err.to_string().ends_with("not a directory"), "{err}");
    }
}
