//! The directories the pins live in, opened so that nobody else's can be
//! used: `<bpffs>/keepalive/` and its `cgroup-<ID>/`, made 0700 and checked
//! at each level (opened with `openat(O_NOFOLLOW)`, then owner and mode read
//! from the open descriptor); what another user made, or made writable by
//! others, is refused. A BPF filesystem mounted by hand is mode 1777, so
//! anyone may create a name there first.
//!
//! Pins inside a checked directory are named through the descriptor
//! (`/proc/self/fd/N/NAME`), so a directory renamed or replaced after the
//! check is never the one written to. The lock that keeps attach and detach
//! apart is an `flock` on the checked top directory: only its owner (root)
//! can open it, and it is waited for at most [`LOCK_WAIT`].

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Error;

/// How long attach and detach wait for another one to finish.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(5);

/// A directory opened by descriptor, and its path for messages.
#[derive(Debug)]
pub(crate) struct Dir {
    pub(crate) path: PathBuf,
    fd: OwnedFd,
}

fn cstr(name: &str) -> CString {
    // Our names: "keepalive", "cgroup-<ID>", "new-cgroup-<ID>", pin names.
    CString::new(name).expect("pin names have no NUL")
}

fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: stat is plain old data; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and a pointer to a stat.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

impl Dir {
    /// Opens `path` (the BPF filesystem's mount point, which /proc/mounts
    /// named: trusted as it is).
    pub(crate) fn open_root(path: &Path) -> Result<Dir, Error> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Error::os(path.display().to_string(), io::Error::other("NUL in path")))?;
        // SAFETY: a NUL-terminated path; the descriptor is owned at once.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(Error::os(
                format!("opening {}", path.display()),
                io::Error::last_os_error(),
            ));
        }
        Ok(Dir {
            path: path.to_path_buf(),
            // SAFETY: open just returned it.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// `name` in this directory, as a path the kernel resolves through
    /// this descriptor.
    pub(crate) fn at(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}/{name}", self.fd.as_raw_fd()))
    }

    /// `name` in this directory, for messages.
    pub(crate) fn shown(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The child directory `name`, checked; `None` when there is none.
    /// Changes nothing (for `list`).
    pub(crate) fn open_child(&self, name: &str) -> Result<Option<Dir>, Error> {
        self.open_checked(name, false)
    }

    /// [`open_child`](Dir::open_child), and a directory of ours that
    /// others may read (but not write) narrowed to 0700.
    pub(crate) fn open_own(&self, name: &str) -> Result<Option<Dir>, Error> {
        self.open_checked(name, true)
    }

    fn open_checked(&self, name: &str, narrow: bool) -> Result<Option<Dir>, Error> {
        let path = self.shown(name);
        let c = cstr(name);
        // SAFETY: a valid directory descriptor and a NUL-terminated name.
        let fd = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOENT) => Ok(None),
                Some(libc::ELOOP) | Some(libc::ENOTDIR) => Err(Error::Untrusted {
                    why: if self.is_symlink(&c) {
                        "it is a symbolic link".into()
                    } else {
                        "it is not a directory".into()
                    },
                    path,
                }),
                _ => Err(Error::os(format!("opening {}", path.display()), e)),
            };
        }
        // SAFETY: openat just returned it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let st = fstat(&fd).map_err(|e| Error::os(format!("stat {}", path.display()), e))?;
        // SAFETY: geteuid cannot fail.
        let me = unsafe { libc::geteuid() };
        if st.st_uid != me {
            return Err(Error::Untrusted {
                path,
                why: format!("it belongs to uid {}, not to uid {me}", st.st_uid),
            });
        }
        if st.st_mode & 0o022 != 0 {
            return Err(Error::Untrusted {
                path,
                why: format!(
                    "it is mode {:04o}: others may have changed what is in it",
                    st.st_mode & 0o7777
                ),
            });
        }
        if narrow && st.st_mode & 0o777 != 0o700 {
            // Ours and written by nobody else: only narrowed.
            // SAFETY: fchmod on a descriptor we own.
            if unsafe { libc::fchmod(fd.as_raw_fd(), 0o700) } != 0 {
                return Err(Error::os(
                    format!("chmod 0700 {}", path.display()),
                    io::Error::last_os_error(),
                ));
            }
        }
        Ok(Some(Dir { path, fd }))
    }

    /// Whether `name` here is a symbolic link.
    fn is_symlink(&self, name: &CString) -> bool {
        self.lstat(name)
            .is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK)
    }

    /// `name` here as it is, a symbolic link not followed; `None` when it
    /// cannot be read.
    fn lstat(&self, name: &CString) -> Option<libc::stat> {
        // SAFETY: stat is plain old data; fstatat fills it.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: a valid directory descriptor, a NUL-terminated name, a stat.
        let r = unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        (r == 0).then_some(st)
    }

    /// The child directory `name`, made 0700 if it is not there, checked.
    pub(crate) fn make_child(&self, name: &str) -> Result<Dir, Error> {
        let c = cstr(name);
        // SAFETY: a valid directory descriptor and a NUL-terminated name.
        if unsafe { libc::mkdirat(self.fd.as_raw_fd(), c.as_ptr(), 0o700) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                return Err(Error::os(
                    format!("creating {}", self.shown(name).display()),
                    e,
                ));
            }
        }
        self.open_own(name)?.ok_or_else(|| {
            Error::os(
                format!("creating {}", self.shown(name).display()),
                io::Error::from_raw_os_error(libc::ENOENT),
            )
        })
    }

    /// The names in this directory (not `.` and `..`).
    pub(crate) fn names(&self) -> Result<Vec<String>, Error> {
        let read = |e| Error::os(format!("reading {}", self.path.display()), e);
        let mut names: Vec<String> = std::fs::read_dir(self.at("."))
            .map_err(read)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Removes `name` (a pin, or with `dir` an empty directory); a name
    /// that is not there is fine. Returns whether it was.
    pub(crate) fn remove(&self, name: &str, dir: bool) -> Result<bool, Error> {
        let c = cstr(name);
        let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
        // SAFETY: a valid directory descriptor and a NUL-terminated name.
        if unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), flags) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOENT) => Ok(false),
            _ => Err(Error::os(
                format!("removing {}", self.shown(name).display()),
                e,
            )),
        }
    }

    /// Moves the child `from` to `to`, which must not exist.
    pub(crate) fn rename(&self, from: &str, to: &str) -> Result<(), Error> {
        let (f, t) = (cstr(from), cstr(to));
        // SAFETY: valid directory descriptors and NUL-terminated names.
        let r = unsafe {
            libc::renameat2(
                self.fd.as_raw_fd(),
                f.as_ptr(),
                self.fd.as_raw_fd(),
                t.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if r != 0 {
            return Err(Error::os(
                format!(
                    "moving {} to {}",
                    self.shown(from).display(),
                    self.shown(to).display()
                ),
                io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    /// Whether this directory is still the one `parent` has as `name`
    /// (a detach may have removed it while we waited for its lock).
    fn is_child_of(&self, parent: &Dir, name: &str) -> bool {
        parent.lstat(&cstr(name)).is_some_and(|st| {
            fstat(&self.fd).is_ok_and(|mine| (mine.st_dev, mine.st_ino) == (st.st_dev, st.st_ino))
        })
    }
}

/// The exclusive lock of attach and detach: an `flock` on our checked top
/// directory, released on drop.
#[derive(Debug)]
pub(crate) struct Lock(Dir);

impl Lock {
    /// The top directory `name` of `root`, made if needed, checked and
    /// locked; waits for another holder at most [`LOCK_WAIT`].
    pub(crate) fn take(root: &Dir, name: &str) -> Result<Lock, Error> {
        let start = Instant::now();
        loop {
            let top = root.make_child(name)?;
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(top.fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                // Removed (by the detach we waited for) meanwhile: again.
                if top.is_child_of(root, name) {
                    return Ok(Lock(top));
                }
                continue;
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(Error::os(format!("locking {}", top.path.display()), e));
            }
            if start.elapsed() >= LOCK_WAIT {
                return Err(Error::Busy {
                    path: top.path,
                    waited: LOCK_WAIT,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The locked top directory.
    pub(crate) fn dir(&self) -> &Dir {
        &self.0
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // SAFETY: unlocking the descriptor the lock was taken on.
        unsafe { libc::flock(self.0.fd.as_raw_fd(), libc::LOCK_UN) };
    }
}
