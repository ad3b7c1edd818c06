//! One error type: what was refused, and what the operator can do about it.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why `attach`, `detach` or `list` did nothing. Every refusal leaves the
/// system as it was: what an `attach` had made before failing is removed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A value of the policy is out of range (the core's message). A usage
    /// error: nothing was looked at.
    Invalid(keepalive::Error),
    /// This build has no BPF programs (clang was missing when it was built).
    NotBuilt {
        /// Why, as the build recorded it.
        why: &'static str,
    },
    /// The caller lacks the capabilities loading and attaching needs.
    NotPermitted {
        /// The capabilities missing, by name.
        missing: Vec<&'static str>,
    },
    /// No cgroup v2 hierarchy is mounted (only v1, or none).
    NoCgroup2,
    /// The path is not a cgroup v2 directory.
    NotACgroup {
        /// The path as given.
        path: PathBuf,
        /// What it is instead.
        why: String,
    },
    /// No BPF filesystem is mounted to pin the attachment in.
    NoBpffs,
    /// A directory the pins would go in was made by another user, is
    /// writable by others, or is a symbolic link: refused, not used.
    Untrusted {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// Another attach, detach or prune held the lock for too long.
    Busy {
        /// The directory locked.
        path: PathBuf,
        /// How long this one waited.
        waited: std::time::Duration,
    },
    /// `detach` of a cgroup that has no policy of ours.
    NotAttached {
        /// The cgroup.
        path: PathBuf,
    },
    /// The kernel refused to load a program: too old, or lacking a helper.
    Load {
        /// Which program (`sockops`, `setsockopt`).
        program: &'static str,
        /// The kernel's error.
        source: io::Error,
        /// The verifier's own words, the line that says what it refused.
        verifier: String,
    },
    /// Another system call was refused.
    Os {
        /// What was being done, e.g. `attaching sockops to /sys/fs/cgroup/x`.
        what: String,
        /// The kernel's error.
        source: io::Error,
    },
}

impl Error {
    /// A usage error (exit status 2), as opposed to a refusal by the
    /// system (exit status 1).
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Invalid(_))
    }

    pub(crate) fn os(what: impl Into<String>, source: io::Error) -> Self {
        Error::Os {
            what: what.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(e) => write!(f, "{e}"),
            Error::NotBuilt { why } => write!(
                f,
                "built without the BPF programs: {why}; install clang, llvm and libbpf-dev \
                 (`make build-cgroup` does) and rebuild"
            ),
            Error::NotPermitted { missing } => write!(
                f,
                "permission denied: loading and attaching the BPF programs needs root \
                 (CAP_SYS_ADMIN, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN); this process lacks {}",
                missing.join(", ")
            ),
            Error::NoCgroup2 => write!(
                f,
                "no cgroup v2 hierarchy is mounted (see /proc/mounts): the BPF programs attach to \
                 cgroup v2 only; mount one with `mount -t cgroup2 none /sys/fs/cgroup/unified`"
            ),
            Error::NotACgroup { path, why } => {
                write!(f, "{}: not a cgroup v2 directory: {why}", path.display())
            }
            Error::NoBpffs => write!(
                f,
                "no BPF filesystem is mounted, so the attachment cannot outlast this command: \
                 mount it with `mount -t bpf bpf /sys/fs/bpf` (systemd does at boot)"
            ),
            Error::Untrusted { path, why } => write!(
                f,
                "{}: refusing to use it: {why}; remove it (`rm -r {}`) and try again \
                 (keepalive makes it itself, mode 0700)",
                path.display(),
                path.display()
            ),
            Error::Busy { path, waited } => write!(
                f,
                "another `keepalive cgroup attach`, `detach` or `prune` has held the lock on {} \
                 for {} s; nothing was changed: try again once it is done",
                path.display(),
                waited.as_secs()
            ),
            Error::NotAttached { path } => write!(
                f,
                "{}: no keepalive policy is attached to this cgroup (`keepalive cgroup list` \
                 shows those that are)",
                path.display()
            ),
            Error::Load {
                program,
                source,
                verifier,
            } => write!(
                f,
                "the kernel refused to load the {program} program ({}): the verifier said: \
                 {verifier}; the programs need a kernel with BTF, Linux 5.10 or later (tested on 6.18; \
                 this kernel is {})",
                crate::error_text(source),
                kernel_release()
            ),
            Error::Os { what, source } => write!(f, "{what}: {}", crate::error_text(source)),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Invalid(e) => Some(e),
            Error::Load { source, .. } | Error::Os { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<keepalive::Error> for Error {
    fn from(e: keepalive::Error) -> Self {
        Error::Invalid(e)
    }
}

/// The running kernel's release, for a message.
fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let e = Error::NotPermitted {
            missing: vec!["CAP_BPF", "CAP_NET_ADMIN"],
        };
        assert!(
            e.to_string().contains("lacks CAP_BPF, CAP_NET_ADMIN"),
            "{e}"
        );
        assert!(Error::NoBpffs
            .to_string()
            .contains("mount -t bpf bpf /sys/fs/bpf"));
        let e = Error::os("attaching", io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(e.to_string(), "attaching: Operation not permitted");
        let e = Error::Load {
            program: "sockops",
            source: io::Error::from_raw_os_error(libc::EINVAL),
            verifier: "unknown func bpf_skc_to_tcp_sock#137".into(),
        };
        assert!(e.to_string().starts_with(
            "the kernel refused to load the sockops program (Invalid argument): the verifier \
             said: unknown func bpf_skc_to_tcp_sock#137; "
        ));
        assert!(Error::Invalid(keepalive::Deadline::from_secs(1, None).unwrap_err()).is_usage());
        assert!(!Error::NoCgroup2.is_usage());
    }
}
