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
    /// The caller lacks the capabilities `keepalive watch` needs.
    WatchNotPermitted {
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
    /// An attach failed midway, and undoing what it had done failed too:
    /// `error` is what stopped it, `left` what stays in place, each with
    /// the error that kept it there.
    NotRestored {
        /// What stopped the attach.
        error: Box<Error>,
        /// What stays, in the order the undo met it.
        left: Vec<Left>,
    },
}

/// One thing a failed attach could not undo: [`Error::NotRestored`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Left {
    /// What stays in place, e.g. `the setsockopt program stays attached`.
    pub what: String,
    /// Why undoing it failed.
    pub error: Error,
}

/// The error an attach that failed with `error` reports, once its undo
/// steps ran: `error` itself when every step succeeded, else
/// [`Error::NotRestored`] naming what each failed step leaves in place.
pub(crate) fn undone(error: Error, steps: Vec<(String, Result<(), Error>)>) -> Error {
    let left: Vec<Left> = steps
        .into_iter()
        .filter_map(|(what, r)| r.err().map(|error| Left { what, error }))
        .collect();
    if left.is_empty() {
        error
    } else {
        Error::NotRestored {
            error: Box::new(error),
            left,
        }
    }
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
            Error::WatchNotPermitted { missing } => write!(
                f,
                "permission denied: watching every TCP connection of the host needs root \
                 (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN) to load a BPF program on a \
                 tracepoint; this process lacks {}",
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
            Error::NotRestored { error, left } => {
                write!(f, "{error}; and undoing the attach failed: ")?;
                for (i, l) in left.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    write!(f, "{sep}{} ({})", l.what, l.error)?;
                }
                write!(
                    f,
                    "; `keepalive cgroup list` shows what is attached, `keepalive cgroup detach \
                     CGROUP` removes it"
                )
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Invalid(e) => Some(e),
            Error::Load { source, .. } | Error::Os { source, .. } => Some(source),
            Error::NotRestored { error, .. } => Some(&**error),
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
        let e = Error::WatchNotPermitted {
            missing: vec!["CAP_BPF", "CAP_PERFMON"],
        };
        assert!(e.to_string().starts_with("permission denied: "), "{e}");
        assert!(e.to_string().ends_with("lacks CAP_BPF, CAP_PERFMON"), "{e}");
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
        assert!(!undone(Error::NoCgroup2, vec![]).is_usage());
    }

    #[test]
    fn a_failed_undo_names_what_stays() {
        let refused = |what: &str| Error::os(what, io::Error::from_raw_os_error(libc::EPERM));
        // Every undo step succeeded: the error that stopped the attach.
        let e = undone(
            refused("writing the policy"),
            vec![("the setsockopt program stays attached".into(), Ok(()))],
        );
        assert!(matches!(e, Error::Os { .. }), "{e:?}");
        let e = undone(
            refused("writing the policy pinned at /sys/fs/bpf/keepalive/cgroup-7/policy"),
            vec![
                ("the setsockopt program stays attached".into(), Ok(())),
                (
                    "the old policy may not be in force".into(),
                    Err(refused(
                        "writing the policy pinned at /sys/fs/bpf/keepalive/cgroup-7/policy",
                    )),
                ),
            ],
        );
        let Error::NotRestored { error, left } = &e else {
            panic!("{e:?}")
        };
        assert!(matches!(**error, Error::Os { .. }));
        assert_eq!(left.len(), 1);
        assert_eq!(
            e.to_string(),
            "writing the policy pinned at /sys/fs/bpf/keepalive/cgroup-7/policy: Operation not \
             permitted; and undoing the attach failed: the old policy may not be in force \
             (writing the policy pinned at /sys/fs/bpf/keepalive/cgroup-7/policy: Operation not \
             permitted); `keepalive cgroup list` shows what is attached, `keepalive cgroup \
             detach CGROUP` removes it"
        );
        assert!(!Error::NoCgroup2.is_usage());
    }
}
