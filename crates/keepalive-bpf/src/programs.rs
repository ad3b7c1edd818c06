//! The BPF objects build.rs compiled, embedded; loading and attaching them
//! with aya; and the pins that make an attachment outlast the command:
//!
//! ```text
//! <bpffs>/keepalive/cgroup-<ID>/policy      the policy map (both programs read it)
//!                              /stats       the counters (both programs write them)
//!                              /sockops     the sock_ops link to the cgroup
//!                              /setsockopt  the cgroup/setsockopt link (--enforce only)
//! ```
//!
//! The links hold the programs: nothing else is pinned. Removing a link's
//! pin detaches its program.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use aya::maps::{Array, Map, MapData, MapError, PerCpuArray};
use aya::programs::{CgroupSockopt, ProgramError, SockOps};
use aya::{Ebpf, EbpfLoader};

use crate::maps::{Policy, Stats};
use crate::pindir::Dir;
use crate::system::Cgroup;
use crate::Error;

/// Why this build has no programs ("" when it has them).
const MISSING: &str = env!("KEEPALIVE_BPF_MISSING");

#[cfg(keepalive_bpf_built)]
pub(crate) fn object(name: &str) -> &'static [u8] {
    match name {
        "sockops" => aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/sockops.bpf.o")),
        "watch" => aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/watch.bpf.o")),
        _ => aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/setsockopt.bpf.o")),
    }
}

#[cfg(not(keepalive_bpf_built))]
pub(crate) fn object(_name: &str) -> &'static [u8] {
    &[]
}

/// Whether this build carries the BPF programs; if not, why.
pub(crate) fn built() -> Result<(), Error> {
    if MISSING.is_empty() {
        Ok(())
    } else {
        Err(Error::NotBuilt { why: MISSING })
    }
}

/// The two programs, by the names their pins and messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Program {
    SockOps,
    Setsockopt,
}

impl Program {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Program::SockOps => "sockops",
            Program::Setsockopt => "setsockopt",
        }
    }

    /// The function's name in its .bpf.c.
    const fn function(self) -> &'static str {
        match self {
            Program::SockOps => "keepalive_sockops",
            Program::Setsockopt => "keepalive_setsockopt",
        }
    }
}

/// The pin directory of one cgroup, opened and checked (pindir.rs): every
/// pin is reached through its descriptor.
#[derive(Debug)]
pub(crate) struct Pins {
    pub(crate) dir: Dir,
}

/// The directory of our own in the BPF filesystem.
pub(crate) const TOP: &str = "keepalive";

/// What a pinned link says of itself, asked of the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// No pin of that name.
    Absent,
    /// Attached to the cgroup with this id.
    Attached(u64),
    /// Pinned, but its cgroup was removed: the program runs no more.
    Detached,
}

impl Pins {
    /// The name of the pin directory of the cgroup `cgroup_id`.
    pub(crate) fn name(cgroup_id: u64) -> String {
        format!("cgroup-{cgroup_id}")
    }

    /// The cgroup id a pin directory's name stands for.
    pub(crate) fn id_of(name: &str) -> Option<u64> {
        name.strip_prefix("cgroup-")?.parse().ok()
    }

    pub(crate) fn policy(&self) -> PathBuf {
        self.dir.at("policy")
    }
    pub(crate) fn stats(&self) -> PathBuf {
        self.dir.at("stats")
    }
    pub(crate) fn link(&self, p: Program) -> PathBuf {
        self.dir.at(p.name())
    }

    /// The links, in the order they are removed (before the maps: removing
    /// a link detaches its program).
    pub(crate) const LINKS: [Program; 2] = [Program::Setsockopt, Program::SockOps];

    /// The maps' pins: the policy, the stats.
    pub(crate) const MAPS: [&'static str; 2] = ["policy", "stats"];

    /// Detaches `p`'s program and removes its pin; returns whether it was
    /// pinned.
    pub(crate) fn unlink(&self, p: Program) -> Result<bool, Error> {
        let Some(fd) = self.pinned_link(p)? else {
            return Ok(false);
        };
        link::detach(fd.as_fd()).map_err(|e| self.link_error("detaching", p, e))?;
        self.dir.remove(p.name(), false)
    }

    /// Whether `p`'s link is pinned, and what the kernel says of it.
    pub(crate) fn link_state(&self, p: Program) -> Result<LinkState, Error> {
        let Some(fd) = self.pinned_link(p)? else {
            return Ok(LinkState::Absent);
        };
        let info = link::info(fd.as_fd()).map_err(|e| self.link_error("reading", p, e))?;
        Ok(match info.cgroup_id {
            0 => LinkState::Detached,
            id => LinkState::Attached(id),
        })
    }

    /// `p`'s pinned link, opened; `None` when there is no pin of that name.
    fn pinned_link(&self, p: Program) -> Result<Option<OwnedFd>, Error> {
        match link::get(&self.link(p)) {
            Ok(fd) => Ok(Some(fd)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(self.link_error("reading", p, e)),
        }
    }

    /// "`doing` the link pinned at <the pin>", with the kernel's error.
    fn link_error(&self, doing: &str, p: Program, e: io::Error) -> Error {
        let pin = self.dir.shown(p.name());
        Error::os(format!("{doing} the link pinned at {}", pin.display()), e)
    }

    /// The policy the pinned map holds.
    pub(crate) fn read_policy(&self) -> Result<Policy, Error> {
        self.with_map("policy", "reading the policy", |map| {
            Array::<_, Policy>::try_from(Map::Array(map))?.get(&0, 0)
        })
    }

    /// Writes the policy into the pinned map: the programs see it at their
    /// next connection or call.
    pub(crate) fn write_policy(&self, policy: &Policy) -> Result<(), Error> {
        self.with_map("policy", "writing the policy", |map| {
            Array::<_, Policy>::try_from(Map::Array(map))?.set(0, policy, 0)
        })
    }

    /// The counters, summed over the CPUs.
    pub(crate) fn read_stats(&self) -> Result<Stats, Error> {
        self.with_map("stats", "reading the counters", |map| {
            let per_cpu = PerCpuArray::<_, Stats>::try_from(Map::PerCpuArray(map))?.get(&0, 0)?;
            Ok(per_cpu.iter().fold(Stats::default(), |sum, s| sum + *s))
        })
    }

    /// Opens the map pinned here as `pin` and runs `op` on it; a failure of
    /// either says "`doing` pinned at <the pin>".
    fn with_map<T>(
        &self,
        pin: &str,
        doing: &str,
        op: impl FnOnce(MapData) -> Result<T, MapError>,
    ) -> Result<T, Error> {
        let what = || format!("{doing} pinned at {}", self.dir.shown(pin).display());
        let map = MapData::from_pin(self.dir.at(pin)).map_err(|e| aya_error(what(), e))?;
        op(map).map_err(|e| aya_error(what(), e))
    }
}

/// An aya error as ours: what was being done, and aya's words.
pub(crate) fn aya_error(what: String, err: impl std::error::Error) -> Error {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    Error::os(what, io::Error::other(text))
}

/// Loads `program`'s object, with its maps taken from (or, the first time,
/// created and pinned at) `pins`. Returns the object, to attach from.
pub(crate) fn load(program: Program, pins: &Pins) -> Result<Ebpf, Error> {
    let policy = pins.policy();
    let stats = pins.stats();
    EbpfLoader::new()
        .map_pin_path("policy", policy.as_path())
        .map_pin_path("stats", stats.as_path())
        .load(object(program.name()))
        .map_err(|e| aya_error(format!("loading the {} BPF object", program.name()), e))
}

/// The line of the verifier's log that says what it refused: the last one
/// before its statistics.
pub(crate) fn verifier_reason(log: &str) -> String {
    log.lines()
        .map(str::trim)
        .rfind(|l| {
            !l.is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time")
                && !l.starts_with("stack depth")
                && !l.starts_with("-- END")
        })
        .unwrap_or("(no verifier output)")
        .to_string()
}

fn load_error(program: Program, err: ProgramError) -> Error {
    match err {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => Error::Load {
            program: program.name(),
            source: io_error,
            verifier: verifier_reason(&verifier_log.to_string()),
        },
        other => aya_error(format!("loading the {} program", program.name()), other),
    }
}

/// Loads `program` from `ebpf`, attaches it to `cgroup` with a BPF link and
/// pins the link. Nothing is left attached if a step fails: a link that is
/// not pinned detaches when its descriptor closes.
pub(crate) fn attach(
    program: Program,
    ebpf: &mut Ebpf,
    cgroup: &Cgroup,
    pins: &Pins,
) -> Result<(), Error> {
    let name = program.name();
    let attaching = || format!("attaching the {name} program to {}", cgroup.path.display());
    let prog = ebpf.program_mut(program.function()).ok_or_else(|| {
        Error::os(
            format!("the embedded {name} object"),
            io::Error::other(format!("has no function {}", program.function())),
        )
    })?;
    let link = match program {
        Program::SockOps => {
            let p: &mut SockOps = prog.try_into().map_err(|e| aya_error(attaching(), e))?;
            p.load().map_err(|e| load_error(program, e))?;
            let fd = p.fd().map_err(|e| aya_error(attaching(), e))?;
            link::create(fd.as_fd(), cgroup.dir.as_fd(), link::CGROUP_SOCK_OPS)
        }
        Program::Setsockopt => {
            let p: &mut CgroupSockopt = prog.try_into().map_err(|e| aya_error(attaching(), e))?;
            p.load().map_err(|e| load_error(program, e))?;
            let fd = p.fd().map_err(|e| aya_error(attaching(), e))?;
            link::create(fd.as_fd(), cgroup.dir.as_fd(), link::CGROUP_SETSOCKOPT)
        }
    }
    .map_err(|e| Error::os(attaching(), e))?;
    let path = pins.link(program);
    link::pin(link.as_fd(), &path)
        .map_err(|e| Error::os(format!("pinning {}", pins.dir.shown(name).display()), e))
}

/// The two `bpf(2)` commands aya 0.14 does not offer for every program
/// type (it has no `FdLink` for a cgroup/setsockopt program): create a
/// cgroup link, pin an object. Both programs go through them alike.
mod link {
    use std::ffi::CString;
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    /// `enum bpf_attach_type` (<linux/bpf.h>).
    pub(super) const CGROUP_SOCK_OPS: u32 = 3;
    pub(super) const CGROUP_SETSOCKOPT: u32 = 22;
    /// `enum bpf_cmd`.
    const BPF_OBJ_PIN: libc::c_long = 6;
    const BPF_OBJ_GET: libc::c_long = 7;
    const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
    const BPF_LINK_CREATE: libc::c_long = 28;
    const BPF_LINK_DETACH: libc::c_long = 34;

    /// `union bpf_attr`, zeroed past the fields a command uses (the kernel
    /// requires that), large enough for every command used here.
    #[repr(C, align(8))]
    struct Attr([u8; 128]);

    impl Attr {
        fn new() -> Attr {
            Attr([0; 128])
        }
        fn u32_at(&mut self, offset: usize, v: u32) {
            self.0[offset..offset + 4].copy_from_slice(&v.to_ne_bytes());
        }
        fn u64_at(&mut self, offset: usize, v: u64) {
            self.0[offset..offset + 8].copy_from_slice(&v.to_ne_bytes());
        }
    }

    fn bpf(cmd: libc::c_long, attr: &mut Attr) -> io::Result<i64> {
        let size = std::mem::size_of::<Attr>() as libc::c_uint;
        // SAFETY: attr points to a zero-filled bpf_attr of `size` bytes.
        let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut Attr, size) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }

    /// BPF_LINK_CREATE: attaches `prog` to the cgroup `target` (links
    /// always allow other programs beside them: BPF_F_ALLOW_MULTI).
    pub(super) fn create(
        prog: BorrowedFd<'_>,
        target: BorrowedFd<'_>,
        attach_type: u32,
    ) -> io::Result<OwnedFd> {
        let mut attr = Attr::new();
        attr.u32_at(0, prog.as_raw_fd() as u32); // link_create.prog_fd
        attr.u32_at(4, target.as_raw_fd() as u32); // link_create.target_fd
        attr.u32_at(8, attach_type); // link_create.attach_type
        let fd = bpf(BPF_LINK_CREATE, &mut attr)?;
        // SAFETY: the kernel just returned this descriptor to us.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }

    /// BPF_OBJ_PIN: `fd`'s object outlives this process at `path`.
    pub(super) fn pin(fd: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut attr = Attr::new();
        attr.u64_at(0, c.as_ptr() as u64); // obj_pin.pathname
        attr.u32_at(8, fd.as_raw_fd() as u32); // obj_pin.bpf_fd
        bpf(BPF_OBJ_PIN, &mut attr).map(drop)
    }

    /// BPF_OBJ_GET: the object pinned at `path`.
    pub(super) fn get(path: &Path) -> io::Result<OwnedFd> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut attr = Attr::new();
        attr.u64_at(0, c.as_ptr() as u64); // obj_get.pathname
        let fd = bpf(BPF_OBJ_GET, &mut attr)?;
        // SAFETY: the kernel just returned this descriptor to us.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }

    /// BPF_LINK_DETACH: the link's program is detached now (removing the
    /// last pin only detaches it once the kernel frees the link, later).
    pub(super) fn detach(fd: BorrowedFd<'_>) -> io::Result<()> {
        let mut attr = Attr::new();
        attr.u32_at(0, fd.as_raw_fd() as u32); // link_detach.link_fd
        bpf(BPF_LINK_DETACH, &mut attr).map(drop)
    }

    /// `struct bpf_link_info`, as far as a cgroup link fills it.
    #[repr(C)]
    #[derive(Default)]
    pub(super) struct Info {
        pub(super) kind: u32,
        pub(super) id: u32,
        pub(super) prog_id: u32,
        _pad: u32,
        /// The cgroup's id; 0 once the cgroup was removed.
        pub(super) cgroup_id: u64,
        pub(super) attach_type: u32,
        _rest: [u32; 13],
    }

    /// `enum bpf_link_type`.
    const BPF_LINK_TYPE_CGROUP: u32 = 3;

    /// BPF_OBJ_GET_INFO_BY_FD of a link, which must be a cgroup link.
    pub(super) fn info(fd: BorrowedFd<'_>) -> io::Result<Info> {
        let mut info = Info::default();
        let mut attr = Attr::new();
        attr.u32_at(0, fd.as_raw_fd() as u32); // info.bpf_fd
        attr.u32_at(4, std::mem::size_of::<Info>() as u32); // info.info_len
        attr.u64_at(8, &mut info as *mut Info as u64); // info.info
        bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
        if info.kind != BPF_LINK_TYPE_CGROUP {
            return Err(io::Error::other(format!(
                "not a cgroup link (link type {}, id {}, program id {}, attach type {})",
                info.kind, info.id, info.prog_id, info.attach_type
            )));
        }
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_reason_is_its_last_word() {
        let log = "0: R1=ctx() R10=fp0\n27: (85) call bpf_skc_to_tcp_sock#137\n\
                   unknown func bpf_skc_to_tcp_sock#137\n\
                   processed 30 insns (limit 1000000) max_states_per_insn 0\n";
        assert_eq!(verifier_reason(log), "unknown func bpf_skc_to_tcp_sock#137");
        assert_eq!(verifier_reason(""), "(no verifier output)");
    }

    #[test]
    fn pin_directories_are_named_by_cgroup_id() {
        assert_eq!(Pins::name(1234), "cgroup-1234");
        assert_eq!(Pins::id_of("cgroup-1234"), Some(1234));
        assert_eq!(Pins::id_of("new-cgroup-1234"), None);
        assert_eq!(Pins::id_of("other"), None);
        assert_eq!(std::mem::size_of::<link::Info>(), 80);
    }
}
