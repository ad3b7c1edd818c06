//! Keepalive for every TCP connection of a cgroup v2, with BPF: what
//! `keepalive cgroup attach|detach|list` does. And [`watch`]: every TCP
//! connection the kernel gives up on, with its cause (`keepalive watch`).
//!
//! `LD_PRELOAD` reaches only dynamically linked programs that create their
//! sockets through libc. A BPF `sock_ops` program attached to a cgroup sees
//! every TCP connection a process of that cgroup makes or accepts, whatever
//! the program is made of (static C, Go, setuid), and gives it the policy
//! as it is established (`bpf_setsockopt` of `SO_KEEPALIVE`,
//! `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT`, `TCP_USER_TIMEOUT`).
//!
//! - The values are the core's ([`keepalive::Config`], checked by
//!   [`Config::check`](keepalive::Config::check), or a
//!   [`Deadline`](keepalive::Deadline)'s split); the BPF programs only copy
//!   them.
//! - Without `enforce` a program that tunes its own keepalive keeps its
//!   values (set before connecting, inherited from a listener, or set
//!   after). With `enforce`, a second program (`cgroup/setsockopt`)
//!   rewrites the program's own keepalive calls to the policy, and the
//!   policy wins over values set before connecting.
//! - Connections that exist already are not seen by sock_ops: the caller
//!   retunes them after [`attach`], taking the sockets of [`processes`]
//!   and giving each what [`plan`] says (the operator's tool does, through
//!   `pidfd_getfd`).
//! - The attachment outlasts the command: its BPF links and maps are pinned
//!   in `<bpffs>/keepalive/cgroup-<ID>/`. Attaching again replaces the
//!   policy; [`detach`] removes exactly what [`attach`] made.
//!
//! Needs root (CAP_SYS_ADMIN, or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN),
//! cgroup v2, a mounted BPF filesystem and a kernel with BTF (Linux 5.10 or
//! later by the helpers used; tested on 6.18).
//! See docs/cgroup.md.

#![warn(missing_docs)]

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use std::time::Duration;

use keepalive::{Config, Deadline};

mod error;
mod existing;
mod hz;
mod maps;
mod programs;
mod system;
pub mod watch;

pub use error::{Error, Left};
pub use existing::plan;
pub use maps::Stats;

use maps::Policy;
use programs::{Pins, Program};
use system::Cgroup;

/// What [`attach`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AttachReport {
    /// The cgroup, as an absolute path.
    pub cgroup: PathBuf,
    /// Its id (as `bpftool cgroup show` and `/proc/PID/cgroup` tooling use).
    pub cgroup_id: u64,
    /// The policy now in force.
    pub policy: Config,
    /// Whether the programs' own keepalive calls are rewritten.
    pub enforce: bool,
    /// The deadline kept in every state ([`attach_deadline`]), if any.
    pub deadline: Option<Duration>,
    /// The policy it replaced, when one was attached already.
    pub replaced: Option<(Config, bool)>,
    /// Where the attachment is pinned.
    pub pins: PathBuf,
}

/// What [`detach`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DetachReport {
    /// The cgroup.
    pub cgroup: PathBuf,
    /// The policy that was in force.
    pub policy: Config,
    /// Whether it was enforced.
    pub enforce: bool,
    /// What the programs had counted, just before they were removed.
    pub stats: Stats,
    /// Every pin removed, and the directory.
    pub removed: Vec<PathBuf>,
}

/// One attached policy, as [`list`] reads it back from the pins.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Attachment {
    /// The cgroup; `None` when it no longer exists (its programs went with
    /// it, and `list` removed what was left in the BPF filesystem).
    pub cgroup: Option<PathBuf>,
    /// The cgroup's id.
    pub cgroup_id: u64,
    /// The policy, read back from the pinned map.
    pub policy: Config,
    /// Whether the setsockopt program is attached too.
    pub enforce: bool,
    /// The deadline kept in every state, for a deadline policy.
    pub deadline: Option<Duration>,
    /// What the programs counted so far.
    pub stats: Stats,
    /// Where it is pinned.
    pub pins: PathBuf,
}

/// An `io::Error`'s text without std's " (os error N)", as the core words it.
pub(crate) fn error_text(err: &io::Error) -> String {
    let text = err.to_string();
    match err.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .unwrap_or(&text)
            .to_owned(),
        None => text,
    }
}

/// What attach and detach check first, in this order: the build has the
/// programs, the caller may load and attach them, cgroup v2 and the BPF
/// filesystem are there. Returns the BPF filesystem's mount point.
fn preflight() -> Result<PathBuf, Error> {
    programs::built()?;
    let missing = system::missing_capabilities();
    if !missing.is_empty() {
        return Err(Error::NotPermitted { missing });
    }
    system::cgroup2_mount()?;
    system::bpffs()
}

/// Gives every TCP connection that a process of `cgroup` (a cgroup v2
/// directory, and the cgroups below it) makes or accepts from now on the
/// keepalive `policy`. The connections it has already are the caller's to
/// retune, once this returned ([`processes`], [`plan`]). With
/// `enforce`, the programs' own keepalive `setsockopt` calls are rewritten
/// to the policy too. Attaching to a cgroup that has a policy replaces it.
///
/// The policy is checked by the core before anything is touched (an
/// invalid value is [`Error::Invalid`]); an empty one turns keepalive on
/// with the system's defaults. All or nothing: when a step fails, what this
/// call had made is removed again (a replaced policy stays as it was).
pub fn attach(cgroup: &Path, policy: &Config, enforce: bool) -> Result<AttachReport, Error> {
    let wanted = Policy::new(policy, enforce)?;
    attach_policy(cgroup, policy, wanted)
}

/// [`attach`] with a dead-peer deadline's policy (`deadline.config()`: idle
/// plus interval × count = D, user timeout D), kept in every state: besides the
/// values, the sock_ops program asks for each connection's retransmission
/// timeouts, and there shortens the user timeout to what is left of D since
/// the peer was last heard, so that a connection written to after a
/// silence dies D after the peer was last heard, not D after the write; a
/// connection that is heard again gets its full D back. A connection whose
/// program set its own user timeout keeps it (without `enforce`).
pub fn attach_deadline(
    cgroup: &Path,
    deadline: &Deadline,
    enforce: bool,
) -> Result<AttachReport, Error> {
    let policy = deadline.config()?;
    let wanted =
        Policy::new(&policy, enforce)?.with_deadline(deadline.after(), system::kernel_hz()?);
    attach_policy(cgroup, &policy, wanted)
}

fn attach_policy(cgroup: &Path, policy: &Config, wanted: Policy) -> Result<AttachReport, Error> {
    let enforce = wanted.enforce();
    let bpffs = preflight()?;
    let cg = Cgroup::open(cgroup)?;
    let _lock = cg.lock()?;
    let pins = Pins::new(&bpffs, cg.id);

    let replaced = if pins.has_link(Program::SockOps) {
        let old = pins.read_policy()?;
        replace(&cg, &pins, &old, &wanted)?;
        Some((old.config(), old.enforce()))
    } else {
        fresh(&cg, &pins, &wanted)?;
        None
    };
    Ok(AttachReport {
        cgroup: cg.path.clone(),
        cgroup_id: cg.id,
        policy: *policy,
        enforce,
        deadline: wanted.deadline(),
        replaced,
        pins: pins.dir,
    })
}

/// Every process of `cgroup` (a cgroup v2 directory) and of the cgroups
/// below it, as their `cgroup.procs` list them, ascending: those whose
/// connections made before [`attach`] sock_ops never saw. Needs no
/// capability; [`Error::NotACgroup`] when `cgroup` is not (or no longer) a
/// cgroup v2 directory.
pub fn processes(cgroup: &Path) -> Result<Vec<u32>, Error> {
    Ok(Cgroup::open(cgroup)?.processes())
}

/// A first attachment: the directory, the maps (policy written before any
/// program can read it), the sock_ops link, the setsockopt link. Undone on
/// failure.
fn fresh(cg: &Cgroup, pins: &Pins, policy: &Policy) -> Result<(), Error> {
    // Debris of an attach that was killed midway: ours, remove it first.
    if pins.dir.exists() {
        remove_pins(pins)?;
    }
    make_dir(&pins.dir)?;
    let result = (|| {
        let mut ebpf = programs::load(Program::SockOps, pins)?;
        pins.write_policy(policy)?;
        programs::attach(Program::SockOps, &mut ebpf, cg, pins)?;
        if policy.enforce() {
            let mut ebpf = programs::load(Program::Setsockopt, pins)?;
            programs::attach(Program::Setsockopt, &mut ebpf, cg, pins)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(()),
        // What could not be removed again is named, not hidden.
        Err(e) => Err(error::undone(
            e,
            vec![(
                format!("pins stay in {}", pins.dir.display()),
                remove_pins(pins).map(drop),
            )],
        )),
    }
}

/// A second attachment to the same cgroup: the same links, the new policy
/// in the map; the setsockopt program added or removed as `enforce` says.
fn replace(cg: &Cgroup, pins: &Pins, old: &Policy, new: &Policy) -> Result<(), Error> {
    let had_setsockopt = pins.has_link(Program::Setsockopt);
    if new.enforce() && !had_setsockopt {
        let mut ebpf = programs::load(Program::Setsockopt, pins)?;
        programs::attach(Program::Setsockopt, &mut ebpf, cg, pins)?;
    }
    if let Err(e) = pins.write_policy(new) {
        let mut undo = Vec::new();
        if new.enforce() && !had_setsockopt {
            undo.push((
                "the setsockopt program added for --enforce stays attached".to_string(),
                programs::unpin(&pins.link(Program::Setsockopt)).map(drop),
            ));
        }
        undo.push((
            "the policy in force may not be the old one".to_string(),
            pins.write_policy(old),
        ));
        return Err(error::undone(e, undo));
    }
    if !new.enforce() && had_setsockopt {
        programs::unpin(&pins.link(Program::Setsockopt))?;
    }
    Ok(())
}

/// Creates `dir` and the top directory above it; a concurrent `detach` may
/// remove an empty top directory in between, so try again once.
fn make_dir(dir: &Path) -> Result<(), Error> {
    let mut last = None;
    for _ in 0..3 {
        match fs::create_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => last = Some(e),
            Err(e) => return Err(Error::os(format!("creating {}", dir.display()), e)),
        }
    }
    Err(Error::os(
        format!("creating {}", dir.display()),
        last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::ENOENT)),
    ))
}

/// Removes every pin of `pins` (links first, which detaches the programs),
/// then its directory, then the top directory if that is empty. Returns
/// what it removed.
fn remove_pins(pins: &Pins) -> Result<Vec<PathBuf>, Error> {
    let mut removed = Vec::new();
    for path in pins.all() {
        if programs::unpin(&path)? {
            removed.push(path);
        }
    }
    match fs::remove_dir(&pins.dir) {
        Ok(()) => removed.push(pins.dir.clone()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::os(format!("removing {}", pins.dir.display()), e)),
    }
    if let Some(top) = pins.dir.parent() {
        // Not empty (another cgroup's policy), or gone: both fine.
        let _ = fs::remove_dir(top);
    }
    Ok(removed)
}

/// Removes the policy attached to `cgroup`: the programs are detached, and
/// the pins and their directory removed (and our top directory in the BPF
/// filesystem once it is empty). Connections keep the values they were
/// given; new ones get none.
pub fn detach(cgroup: &Path) -> Result<DetachReport, Error> {
    let bpffs = preflight()?;
    let cg = Cgroup::open(cgroup)?;
    let _lock = cg.lock()?;
    let pins = Pins::new(&bpffs, cg.id);
    if !pins.dir.exists() {
        return Err(Error::NotAttached {
            path: cg.path.clone(),
        });
    }
    let policy = pins.read_policy().unwrap_or_default();
    let stats = pins.read_stats().unwrap_or_default();
    let removed = remove_pins(&pins)?;
    Ok(DetachReport {
        cgroup: cg.path.clone(),
        policy: policy.config(),
        enforce: policy.enforce(),
        stats,
        removed,
    })
}

/// Every policy attached, read back from the pins. The pins of a cgroup
/// that was removed since (its programs went with it) are removed, and
/// listed once with `cgroup: None`.
pub fn list() -> Result<Vec<Attachment>, Error> {
    // Reading needs no capability, only access to the pins (root's, mode 0600).
    system::cgroup2_mount()?;
    let bpffs = system::bpffs()?;
    let top = bpffs.join(programs::TOP);
    let entries = match fs::read_dir(&top) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::os(format!("reading {}", top.display()), e)),
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(id) = Pins::id_of(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        let pins = Pins::new(&bpffs, id);
        let policy = pins.read_policy().unwrap_or_default();
        let stats = pins.read_stats().unwrap_or_default();
        let cgroup = system::cgroup_path(id);
        if cgroup.is_none() {
            remove_pins(&pins)?;
        }
        found.push(Attachment {
            cgroup,
            cgroup_id: id,
            policy: policy.config(),
            enforce: pins.has_link(Program::Setsockopt),
            deadline: policy.deadline(),
            stats,
            pins: pins.dir,
        });
    }
    found.sort_by(|a, b| a.cgroup.cmp(&b.cgroup).then(a.cgroup_id.cmp(&b.cgroup_id)));
    Ok(found)
}
