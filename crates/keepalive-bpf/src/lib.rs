//! Keepalive for every TCP connection of a cgroup v2, with BPF: what
//! `keepalive cgroup attach|detach|list|prune` does. And [`watch`]: every
//! TCP connection the kernel gives up on, with its cause (`keepalive watch`).
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
//!   [`keepalive::Deadline`]'s split); the BPF programs only copy
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
//!   in `<bpffs>/keepalive/cgroup-<ID>/` (directories 0700, checked: one
//!   another user made is refused). Attaching again replaces the policy;
//!   [`detach`] removes exactly what [`attach`] made. [`list`] changes
//!   nothing and asks the kernel (the links' info) whether each policy is
//!   attached; [`prune`] removes the pins of those that are not.
//!
//! Needs root (CAP_SYS_ADMIN, or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN),
//! cgroup v2, a BPF filesystem ([`attach`] mounts one at /sys/fs/bpf when
//! none is mounted, and says so) and a kernel with BTF (Linux 5.10 or
//! later by the helpers used; tested on 6.18).
//! See docs/cgroup.md.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use std::time::Duration;

use keepalive::{Config, Deadline};

#[cfg(test)]
mod c_layout;
mod error;
mod existing;
mod hz;
mod maps;
mod pindir;
mod programs;
mod system;
pub mod watch;

pub use error::{Error, Left};
pub use existing::plan;
pub use maps::Stats;

use maps::Policy;
use pindir::{Dir, Lock};
use programs::{LinkState, Pins, Program};
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
    /// The BPF filesystem this call mounted, none being mounted (as
    /// bpftool does).
    pub mounted: Option<PathBuf>,
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

/// Whether a pinned policy is in force, as the kernel tells of its links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// The sock_ops program is attached to the cgroup.
    Attached,
    /// The programs were detached: the cgroup was removed (or a detach was
    /// killed midway); only the pins are left, for [`prune`].
    Detached,
    /// No program is attached: an attach or a detach was killed midway;
    /// attaching again or [`prune`] removes the pins.
    NotAttached,
}

impl State {
    /// The state's name, as `list --json` prints it.
    pub fn name(self) -> &'static str {
        match self {
            State::Attached => "attached",
            State::Detached => "detached",
            State::NotAttached => "not-attached",
        }
    }
}

/// One pinned policy, as [`list`] reads it back from the pins and the
/// kernel.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Attachment {
    /// The cgroup; `None` when it was removed, or when no cgroup v2 mount
    /// of this mount namespace shows it (a cgroup namespace, a mount of
    /// part of the tree): [`state`](Attachment::state) tells which.
    pub cgroup: Option<PathBuf>,
    /// The cgroup's id.
    pub cgroup_id: u64,
    /// Whether it is in force.
    pub state: State,
    /// The policy, read back from the pinned map.
    pub policy: Config,
    /// Whether it is enforced: the map says so and the setsockopt program
    /// is attached too.
    pub enforce: bool,
    /// The deadline kept in every state, for a deadline policy.
    pub deadline: Option<Duration>,
    /// What the programs counted so far.
    pub stats: Stats,
    /// Where it is pinned.
    pub pins: PathBuf,
}

pub(crate) use keepalive::os_error_text as error_text;

/// What attach and detach check first, in this order: the build has the
/// programs, the caller may load and attach them, cgroup v2 is there (prune,
/// which loads nothing, needs only our BPF filesystem directory).
fn preflight() -> Result<(), Error> {
    programs::built()?;
    let missing = system::missing_capabilities();
    if !missing.is_empty() {
        return Err(Error::NotPermitted { missing });
    }
    system::cgroup2_mount()?;
    Ok(())
}

/// Runs `f` with our top directory of the BPF filesystem `root` made,
/// checked and locked; afterwards, still under the lock, removes the top
/// directory if it is empty (it is made again by the next one to lock).
fn locked<T>(root: &Dir, f: impl FnOnce(&Dir) -> Result<T, Error>) -> Result<T, Error> {
    let lock = Lock::take(root, programs::TOP)?;
    let result = f(lock.dir());
    // Not empty (a policy is attached) or gone: both fine.
    let _ = root.remove(programs::TOP, true);
    drop(lock);
    result
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
    let wanted = Policy::new(&policy, enforce)?.with_deadline(deadline.after(), hz::kernel_hz()?);
    attach_policy(cgroup, &policy, wanted)
}

fn attach_policy(cgroup: &Path, policy: &Config, wanted: Policy) -> Result<AttachReport, Error> {
    let enforce = wanted.enforce();
    preflight()?;
    let cg = Cgroup::open(cgroup)?;
    let (bpffs, mounted) = system::bpffs_or_mount()?;
    let name = Pins::name(cg.id);
    let replaced = (|| {
        let root = Dir::open_root(&bpffs)?;
        locked(&root, |top| attach_locked(&cg, top, &name, &wanted))
    })()
    .inspect_err(|_| {
        if mounted {
            // Refused: the system as it was, without the mount this call made.
            system::unmount(&bpffs);
        }
    })?;
    Ok(AttachReport {
        cgroup: cg.path.clone(),
        cgroup_id: cg.id,
        policy: *policy,
        enforce,
        deadline: wanted.deadline(),
        replaced,
        pins: bpffs.join(programs::TOP).join(&name),
        mounted: mounted.then_some(bpffs),
    })
}

/// Attaches `wanted` to `cg` under our locked top directory: a fresh
/// attachment, or the replacement of the one there. Returns the policy
/// replaced.
fn attach_locked(
    cg: &Cgroup,
    top: &Dir,
    name: &str,
    wanted: &Policy,
) -> Result<Option<(Config, bool)>, Error> {
    match top.open_own(name)? {
        Some(dir) => {
            let pins = Pins { dir };
            if !matches!(pins.link_state(Program::SockOps)?, LinkState::Attached(_)) {
                // What an attach or a detach that was killed midway left:
                // nothing attached, only ours (the directory is checked).
                remove_pins(top, pins, name)?;
                fresh(cg, top, name, wanted)?;
                return Ok(None);
            }
            let old = pins.read_policy()?;
            replace(cg, &pins, &old, wanted)?;
            Ok(Some((old.config(), old.enforce())))
        }
        None => {
            fresh(cg, top, name, wanted)?;
            Ok(None)
        }
    }
}

/// Every process of `cgroup` (a cgroup v2 directory) and of the cgroups
/// below it, as their `cgroup.procs` list them, ascending: those whose
/// connections made before [`attach`] sock_ops never saw. Needs no
/// capability; [`Error::NotACgroup`] when `cgroup` is not (or no longer) a
/// cgroup v2 directory.
pub fn processes(cgroup: &Path) -> Result<Vec<u32>, Error> {
    Ok(Cgroup::open(cgroup)?.processes())
}

/// A first attachment, in an order where every prefix is either invisible
/// or listed as what it is: the maps are made and the policy written (not
/// enforced yet) in a new directory `new-cgroup-<ID>` (bpffs allows no dot
/// in a name), which `list` does
/// not read; the directory is moved into place (listed as not attached);
/// the sock_ops link is pinned (attached); with enforce, the setsockopt
/// link is pinned (its program does nothing while the map says not
/// enforced) and then the map says enforce. Undone on failure.
fn fresh(cg: &Cgroup, top: &Dir, name: &str, policy: &Policy) -> Result<(), Error> {
    let staging = format!("new-{name}");
    if let Some(dir) = top.open_own(&staging)? {
        remove_pins(top, Pins { dir }, &staging)?;
    }
    let stage = Pins {
        dir: top.make_child(&staging)?,
    };
    let built = (|| {
        let ebpf = programs::load(Program::SockOps, &stage)?;
        stage.write_policy(&policy.without_enforce())?;
        top.rename(&staging, name)?;
        Ok(ebpf)
    })();
    let mut ebpf = match built {
        Ok(ebpf) => ebpf,
        Err(e) => {
            let left = format!("pins stay in {}", top.shown(&staging).display());
            let removed = remove_pins(top, stage, &staging).map(drop);
            return Err(error::undone(e, vec![(left, removed)]));
        }
    };
    // The directory moved, its descriptor still names it: only its path
    // for messages changes.
    let mut pins = stage;
    pins.dir.path = top.shown(name);
    let result = (|| {
        programs::attach(Program::SockOps, &mut ebpf, cg, &pins)?;
        if policy.enforce() {
            let mut ebpf = programs::load(Program::Setsockopt, &pins)?;
            programs::attach(Program::Setsockopt, &mut ebpf, cg, &pins)?;
            pins.write_policy(policy)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(()),
        // What could not be removed again is named, not hidden.
        Err(e) => {
            let left = format!("pins stay in {}", top.shown(name).display());
            Err(error::undone(
                e,
                vec![(left, remove_pins(top, pins, name).map(drop))],
            ))
        }
    }
}

/// A second attachment to the same cgroup: the same links, the new policy
/// in the map; the setsockopt program added before the map says enforce,
/// or removed after it says not.
fn replace(cg: &Cgroup, pins: &Pins, old: &Policy, new: &Policy) -> Result<(), Error> {
    let had_setsockopt = match pins.link_state(Program::Setsockopt)? {
        LinkState::Attached(_) => true,
        LinkState::Absent => false,
        // Pinned but detached (a detach killed midway): only its pin is left.
        LinkState::Detached => {
            pins.dir.remove(Program::Setsockopt.name(), false)?;
            false
        }
    };
    if new.enforce() && !had_setsockopt {
        let mut ebpf = programs::load(Program::Setsockopt, pins)?;
        programs::attach(Program::Setsockopt, &mut ebpf, cg, pins)?;
    }
    if let Err(e) = pins.write_policy(new) {
        let mut undo = Vec::new();
        if new.enforce() && !had_setsockopt {
            undo.push((
                "the setsockopt program added for --enforce stays attached".to_string(),
                pins.unlink(Program::Setsockopt).map(drop),
            ));
        }
        undo.push((
            "the policy in force may not be the old one".to_string(),
            pins.write_policy(old),
        ));
        return Err(error::undone(e, undo));
    }
    if !new.enforce() && had_setsockopt {
        pins.unlink(Program::Setsockopt)?;
    }
    Ok(())
}

/// Removes every pin in `pins` (links first, which detaches the programs,
/// then the maps and anything else in it), then the directory, `name` in
/// `top`. Returns what it removed, as paths for people.
fn remove_pins(top: &Dir, pins: Pins, name: &str) -> Result<Vec<PathBuf>, Error> {
    let mut removed = Vec::new();
    let ours = |n: &str| Pins::MAPS.contains(&n) || Pins::LINKS.iter().any(|l| l.name() == n);
    let others: Vec<String> = pins.dir.names()?.into_iter().filter(|n| !ours(n)).collect();
    for link in Pins::LINKS {
        if pins.unlink(link)? {
            removed.push(pins.dir.shown(link.name()));
        }
    }
    for n in Pins::MAPS
        .into_iter()
        .chain(others.iter().map(String::as_str))
    {
        if pins.dir.remove(n, false)? {
            removed.push(pins.dir.shown(n));
        }
    }
    drop(pins);
    if top.remove(name, true)? {
        removed.push(top.shown(name));
    }
    Ok(removed)
}

/// Removes the policy attached to `cgroup`: the programs are detached, and
/// the pins and their directory removed (and our top directory in the BPF
/// filesystem once it is empty). Connections keep the values they were
/// given; new ones get none.
pub fn detach(cgroup: &Path) -> Result<DetachReport, Error> {
    preflight()?;
    let cg = Cgroup::open(cgroup)?;
    let not_attached = || Error::NotAttached {
        path: cg.path.clone(),
    };
    let bpffs = match system::bpffs() {
        Err(Error::NoBpffs) => return Err(not_attached()),
        other => other?,
    };
    let root = Dir::open_root(&bpffs)?;
    let name = Pins::name(cg.id);
    locked(&root, |top| {
        let pins = Pins {
            dir: top.open_own(&name)?.ok_or_else(not_attached)?,
        };
        let policy = pins.read_policy().unwrap_or_default();
        let stats = pins.read_stats().unwrap_or_default();
        let removed = remove_pins(top, pins, &name)?;
        Ok(DetachReport {
            cgroup: cg.path.clone(),
            policy: policy.config(),
            enforce: policy.enforce(),
            stats,
            removed,
        })
    })
}

/// Every policy pinned, read back from the pins, with its state asked of
/// the kernel (the links' info): changes nothing. A policy whose cgroup
/// was removed, or whose attach or detach was killed midway, is listed as
/// such; [`prune`] removes those.
pub fn list() -> Result<Vec<Attachment>, Error> {
    // Reading needs no capability, only access to the pins (root's, 0700).
    system::cgroup2_mount()?;
    let bpffs = match system::bpffs() {
        // Nothing can be pinned in this mount namespace.
        Err(Error::NoBpffs) => return Ok(Vec::new()),
        other => other?,
    };
    let root = Dir::open_root(&bpffs)?;
    let Some(top) = root.open_child(programs::TOP)? else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for name in top.names()? {
        let Some(id) = Pins::id_of(&name) else {
            continue;
        };
        // Detached meanwhile: not there any more.
        let Some(dir) = top.open_child(&name)? else {
            continue;
        };
        let pins = Pins { dir };
        let sockops = pins.link_state(Program::SockOps)?;
        let setsockopt = pins.link_state(Program::Setsockopt)?;
        let policy = pins.read_policy().unwrap_or_default();
        let stats = pins.read_stats().unwrap_or_default();
        let state = match sockops {
            LinkState::Attached(_) => State::Attached,
            LinkState::Detached => State::Detached,
            LinkState::Absent => State::NotAttached,
        };
        let cgroup = match state {
            State::Detached => None,
            _ => system::cgroup_path(id),
        };
        found.push(Attachment {
            cgroup,
            cgroup_id: id,
            state,
            policy: policy.config(),
            enforce: state == State::Attached
                && policy.enforce()
                && matches!(setsockopt, LinkState::Attached(_)),
            deadline: policy.deadline(),
            stats,
            pins: top.shown(&name),
        });
    }
    found.sort_by(|a, b| a.cgroup.cmp(&b.cgroup).then(a.cgroup_id.cmp(&b.cgroup_id)));
    Ok(found)
}

/// Removes the pins of every policy [`list`] shows as not attached: those
/// whose cgroup was removed (the kernel detached their programs) and those
/// an attach or detach killed midway left, and what an attach killed
/// before its policy was listed left. A policy in force is never touched.
/// Returns the directories removed.
pub fn prune() -> Result<Vec<PathBuf>, Error> {
    let bpffs = match system::bpffs() {
        Err(Error::NoBpffs) => return Ok(Vec::new()),
        other => other?,
    };
    let root = Dir::open_root(&bpffs)?;
    locked(&root, |top| {
        let mut removed = Vec::new();
        for name in top.names()? {
            let staging = name
                .strip_prefix("new-")
                .is_some_and(|n| Pins::id_of(n).is_some());
            if Pins::id_of(&name).is_none() && !staging {
                continue;
            }
            let Some(dir) = top.open_own(&name)? else {
                continue;
            };
            let pins = Pins { dir };
            if !staging && matches!(pins.link_state(Program::SockOps)?, LinkState::Attached(_)) {
                continue;
            }
            remove_pins(top, pins, &name)?;
            removed.push(top.shown(&name));
        }
        Ok(removed)
    })
}
