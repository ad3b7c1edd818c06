//! How the tool fails: exit 1 when the system refused (with the reason),
//! exit 2 for a usage error; and the sentences that say what is needed.

use std::fmt::Write as _;

use crate::procfs::{self, Pid};
use crate::target::Denied;

/// A failure, with the message to print.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// Exit 2: the command line is wrong; nothing was touched.
    Usage(String),
    /// Exit 1: the system refused, or there is nothing to act on.
    Refused(String),
}

/// An invalid value, as the core words it: a usage error.
pub fn invalid(err: keepalive::Error) -> Failure {
    Failure::Usage(err.to_string())
}

/// What a refusal of the core's adds after the reason: `nothing_changed`
/// ("; nothing was changed"), unless it is a refusal midway whose undo
/// failed, which says itself what stays changed.
pub fn unless_left_changed(err: &keepalive::Error, nothing_changed: &'static str) -> &'static str {
    if matches!(err, keepalive::Error::NotRestored { .. }) {
        ""
    } else {
        nothing_changed
    }
}

/// A refusal of `keepalive cgroup` (keepalive-bpf's error, which says what
/// and why): exit 1, or 2 for an invalid value.
pub fn cgroup(err: keepalive_bpf::Error) -> Failure {
    if err.is_usage() {
        Failure::Usage(err.to_string())
    } else {
        Failure::Refused(err.to_string())
    }
}

/// What Yama's `ptrace_scope` means, for a permission message.
fn yama(scope: u8) -> &'static str {
    match scope {
        0 => "classic ptrace rules",
        1 => {
            "restricted: only a process's ancestors may attach to it, unless it allows others \
              with prctl(PR_SET_PTRACER) or the caller has CAP_SYS_PTRACE"
        }
        2 => "admin-only: only a caller with CAP_SYS_PTRACE may attach",
        _ => "no attach: nobody may attach, not even root, until reboot",
    }
}

/// What taking another process's descriptors needs, and Yama's word on it
/// when Yama is active.
pub fn permission_needs() -> String {
    let mut s = String::from(
        "taking another process's sockets needs ptrace rights over it: the same user and a \
         ptrace-able (dumpable) target, or CAP_SYS_PTRACE (root)",
    );
    if let Some(scope) = procfs::ptrace_scope() {
        let _ = write!(
            s,
            "; Yama's /proc/sys/kernel/yama/ptrace_scope is {scope} ({})",
            yama(scope)
        );
    }
    s
}

/// Whether the caller is root (effective uid 0), whose refusals have other
/// reasons than a missing privilege.
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Why root may still not take a process's descriptors: Yama's "no attach",
/// a root without CAP_SYS_PTRACE (a container's), a target in a user
/// namespace that is not below the caller's, or else a security module.
fn root_refused(pid: Pid) -> String {
    if procfs::ptrace_scope() == Some(3) {
        return format!(
            "even root is refused: Yama's /proc/sys/kernel/yama/ptrace_scope is 3 ({})",
            yama(3)
        );
    }
    if !procfs::own_capability(CAP_SYS_PTRACE) {
        return "this root lacks CAP_SYS_PTRACE (a container or a capability bounding set \
                drops it): run the tool where root has it, e.g. on the host"
            .into();
    }
    if let Some(beyond) = procfs::capabilities_beyond_ours(pid).filter(|&m| m != 0) {
        return format!(
            "the process holds capabilities this root lacks ({}): this root is confined (a \
             container, a sandbox), and taking the descriptors of a process with more \
             capabilities needs CAP_SYS_PTRACE in that process's own user namespace",
            procfs::capability_names(beyond).join(", ")
        );
    }
    match (procfs::user_ns(pid), procfs::user_ns(std::process::id())) {
        (Some(theirs), Some(ours)) if theirs != ours => format!(
            "the process runs in another user namespace ({theirs}, this tool's is {ours}), \
             where this root's CAP_SYS_PTRACE does not reach: run the tool from the owning \
             namespace"
        ),
        _ => "root with CAP_SYS_PTRACE was refused all the same: a security module (AppArmor, \
              SELinux, a BPF LSM) forbids ptrace access to this process"
            .into(),
    }
}

/// The capability number of CAP_SYS_PTRACE (linux/capability.h).
const CAP_SYS_PTRACE: u32 = 19;

/// The running kernel's release, for a message.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Why a process could not be inspected, as a sentence naming it.
pub fn denied(pid: Pid, why: &Denied) -> String {
    match why {
        Denied::Gone => format!("no such process: {pid}"),
        Denied::Thread(tgid) => {
            format!("{pid} is a thread of process {tgid}: give the process id {tgid}")
        }
        Denied::Permission { step, err } => {
            let owner = procfs::uid(pid)
                .map(|u| format!(", owned by uid {u}"))
                .unwrap_or_default();
            // Root is refused for reasons of its own: telling root to run
            // as root would send it in a circle.
            let why = if is_root() {
                root_refused(pid)
            } else {
                permission_needs()
            };
            format!(
                "pid {pid} ({}{owner}): permission denied ({step}: {err}): {why}",
                procfs::comm(pid),
            )
        }
        Denied::NoPidfd { call } => no_pidfd(call),
        Denied::Io { step, err } => format!("pid {pid}: {step}: {err}"),
    }
}

/// The kernel lacks `pidfd_open`/`pidfd_getfd`.
pub fn no_pidfd(call: &str) -> String {
    format!(
        "{call}: Function not implemented: taking a duplicate of another process's descriptor \
         needs pidfd_getfd, Linux 5.6 or later (this kernel is {})",
        kernel_release()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_is_needed() {
        let m = denied(
            1,
            &Denied::Permission {
                step: "reading /proc/1/fd".into(),
                err: std::io::Error::from_raw_os_error(libc::EACCES),
            },
        );
        assert!(m.starts_with("pid 1 ("), "{m}");
        assert!(m.contains("permission denied (reading /proc/1/fd: Permission denied"));
        assert!(m.contains("CAP_SYS_PTRACE"), "{m}");
        let m = no_pidfd("pidfd_getfd");
        assert!(m.contains("Linux 5.6 or later (this kernel is "), "{m}");
        assert_eq!(denied(7, &Denied::Gone), "no such process: 7");
        assert_eq!(
            denied(8, &Denied::Thread(5)),
            "8 is a thread of process 5: give the process id 5"
        );
        assert!(yama(1).contains("ancestors"));
        // Root is never told to run as root.
        if is_root() {
            let m = denied(
                1,
                &Denied::Permission {
                    step: "pidfd_getfd".into(),
                    err: std::io::Error::from_raw_os_error(libc::EPERM),
                },
            );
            assert!(!m.contains("(root)"), "{m}");
            assert!(m.contains("pid 1 ("), "{m}");
        }
        assert!(yama(3).contains("not even root"));
    }
}
