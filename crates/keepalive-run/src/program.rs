//! PROGRAM: found through `PATH` as `execvp` finds it, and checked to be one
//! a preload library can reach (not statically linked, not run in
//! secure-execution mode).

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::elf;

/// The file `exec` will run for `program`: a name with a slash as is, else
/// the first executable regular file named so in `path` (the `PATH` value;
/// unset: `/bin:/usr/bin`, as glibc's `execvp`; an empty entry is the
/// current directory). `None` when there is none (exec then says why).
pub(crate) fn find_program(program: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(program));
    }
    if program.is_empty() {
        return None;
    }
    let path = path.unwrap_or(OsStr::new("/bin:/usr/bin"));
    path.as_bytes().split(|b| *b == b':').find_map(|dir| {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
        let candidate = dir.join(program);
        let is_file = std::fs::metadata(&candidate).is_ok_and(|m| m.is_file());
        (is_file && executable(&candidate)).then_some(candidate)
    })
}

/// Whether this process may execute `path` (access(2) with X_OK).
fn executable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path; access only reads it.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

/// Whether a preload library (`lib`) can reach the program in `path`; if
/// not, why not. Only what is certain is refused: a file that cannot be
/// read or is of no known kind is left to exec. `depth` follows a script's
/// `#!` interpreter once.
pub(crate) fn reachable(path: &Path, lib: &Path, depth: u8) -> Result<(), String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if let Some(why) = secure_execution(path, &meta) {
        return Err(format!(
            "{why}: the loader runs it in secure-execution mode, where LD_PRELOAD \
             libraries outside the system's library directories are ignored, so no \
             preload library can reach it"
        ));
    }
    match elf::read(path) {
        Ok(elf::Kind::Elf(h)) if (h.kind == elf::ET_EXEC || h.kind == elf::ET_DYN) => {
            if !h.has_interpreter {
                return Err(
                    "statically linked (no PT_INTERP): no dynamic loader runs for \
                            it, so no LD_PRELOAD library can reach it"
                        .into(),
                );
            }
            if let Ok(elf::Kind::Elf(ours)) = elf::read(lib) {
                if h.abi != ours.abi {
                    return Err(format!(
                        "a program for {}, while the preload library is for {}: the loader \
                         would skip the library",
                        h.abi, ours.abi
                    ));
                }
            }
            Ok(())
        }
        Ok(elf::Kind::Script(interpreter)) if depth == 0 && interpreter.starts_with(b"/") => {
            let interpreter = PathBuf::from(OsStr::from_bytes(&interpreter));
            reachable(&interpreter, lib, 1).map_err(|why| {
                format!(
                    "a script whose interpreter {} is {why}",
                    interpreter.display()
                )
            })
        }
        _ => Ok(()),
    }
}

/// Why the kernel would run `path` in secure-execution mode (`AT_SECURE`)
/// for this process, if it would: a set-user-ID bit that changes the
/// effective user, a set-group-ID bit that changes the effective group, or
/// file capabilities granted to a non-root caller; none of them on a file
/// system mounted `nosuid`.
fn secure_execution(path: &Path, meta: &std::fs::Metadata) -> Option<String> {
    let mode = meta.mode();
    // SAFETY: these getters cannot fail.
    let (uid, gid, euid) = unsafe { (libc::getuid(), libc::getgid(), libc::geteuid()) };
    let setuid = mode & libc::S_ISUID != 0 && meta.uid() != uid;
    let setgid = mode & libc::S_ISGID != 0 && mode & libc::S_IXGRP != 0 && meta.gid() != gid;
    let caps = euid != 0 && has_file_capabilities(path);
    if !(setuid || setgid || caps) || mounted_nosuid(path) {
        return None;
    }
    Some(if setuid {
        format!("set-user-ID (owner uid {})", meta.uid())
    } else if setgid {
        format!("set-group-ID (group gid {})", meta.gid())
    } else {
        "granted file capabilities".into()
    })
}

fn has_file_capabilities(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: NUL-terminated strings; a zero-size query writes nothing.
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            b"security.capability\0".as_ptr().cast(),
            std::ptr::null_mut(),
            0,
        )
    };
    n > 0
}

fn mounted_nosuid(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: plain data filled by statvfs.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a live statvfs buffer.
    unsafe { libc::statvfs(c.as_ptr(), &mut st) == 0 && st.f_flag & libc::ST_NOSUID != 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use std::ffi::OsString;

    #[test]
    fn programs_are_found_as_execvp_finds_them() {
        let s = Scratch::new("path");
        std::fs::create_dir_all(s.0.join("a")).unwrap();
        std::fs::create_dir_all(s.0.join("b")).unwrap();
        s.file("a/tool", b"not executable", 0o644);
        let b_tool = s.file("b/tool", b"#!/bin/sh\n", 0o755);
        let path = OsString::from(format!(
            "{}:{}",
            s.0.join("a").display(),
            s.0.join("b").display()
        ));
        assert_eq!(find_program("tool".as_ref(), Some(&path)), Some(b_tool));
        assert_eq!(find_program("missing".as_ref(), Some(&path)), None);
        assert_eq!(
            find_program("./rel/prog".as_ref(), Some(&path)),
            Some(PathBuf::from("./rel/prog"))
        );
        assert_eq!(find_program("".as_ref(), Some(&path)), None);
        assert_eq!(
            find_program("sh".as_ref(), None),
            Some(PathBuf::from("/bin/sh"))
        );
    }

    #[test]
    fn programs_no_preload_can_reach_are_told() {
        let s = Scratch::new("prog");
        let me = std::env::current_exe().unwrap();
        let machine = match elf::read(&me).unwrap() {
            elf::Kind::Elf(h) => h.abi.machine,
            other => panic!("{other:?}"),
        };
        let lib = s.file(
            "lib.so",
            &elf::tests::elf64(elf::ET_DYN, machine, &[]),
            0o644,
        );
        // This (dynamically linked) test program, a script of a dynamic
        // interpreter, a file of no known kind: reachable.
        assert_eq!(reachable(&me, &lib, 0), Ok(()));
        let script = s.file("script", b"#!/bin/sh\n", 0o755);
        assert_eq!(reachable(&script, &lib, 0), Ok(()));
        let other = s.file("other", b"MZ", 0o755);
        assert_eq!(reachable(&other, &lib, 0), Ok(()));
        assert_eq!(reachable(&s.0.join("missing"), &lib, 0), Ok(()));

        let fixed = s.file(
            "static",
            &elf::tests::elf64(elf::ET_EXEC, machine, &[1, 4]),
            0o755,
        );
        let pie = s.file(
            "static-pie",
            &elf::tests::elf64(elf::ET_DYN, machine, &[1]),
            0o755,
        );
        for p in [&fixed, &pie] {
            let err = reachable(p, &lib, 0).unwrap_err();
            assert!(err.starts_with("statically linked (no PT_INTERP)"), "{err}");
        }
        let via = s.file(
            "via-static",
            format!("#! {} -x\n", fixed.display()).as_bytes(),
            0o755,
        );
        let err = reachable(&via, &lib, 0).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "a script whose interpreter {} is statically linked",
                fixed.display()
            )),
            "{err}"
        );
        let foreign = s.file(
            "foreign",
            &elf::tests::elf64(elf::ET_DYN, 4242, &[3]),
            0o755,
        );
        let err = reachable(&foreign, &lib, 0).unwrap_err();
        assert!(err.contains("ELF machine 4242"), "{err}");
    }
}
