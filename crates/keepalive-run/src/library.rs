//! The preload library keepalive-run puts in front of PROGRAM: found
//! relative to keepalive-run itself and checked to be loadable.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::elf;

/// The preload library's file name, in `../lib` relative to this program.
const LIBRARY: &str = "libkeepalive-preload.so";

/// `../lib/libkeepalive-preload.so` relative to this executable, checked to
/// be a shared object this process's loader can load (readable, ELF, a
/// shared object of the same class, byte order and machine as this program)
/// and to be listable in `LD_PRELOAD`.
pub(crate) fn library() -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot tell where this program is installed: {e}"))?;
    let prefix = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} has no parent directory", exe.display()))?;
    let lib = prefix.join("lib").join(LIBRARY);
    match std::fs::metadata(&lib) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(format!("{} is not a file", lib.display())),
        Err(e) => {
            return Err(format!(
                "cannot find the preload library {} ({e}); it is installed in lib/ beside bin/",
                lib.display()
            ))
        }
    }
    check_library(&lib, Some(&exe))?;
    // ld.so splits LD_PRELOAD at spaces and colons.
    if lib
        .as_os_str()
        .as_bytes()
        .iter()
        .any(|b| *b == b' ' || *b == b':')
    {
        return Err(format!(
            "{} contains a space or a colon, so it cannot be listed in LD_PRELOAD",
            lib.display()
        ));
    }
    Ok(lib)
}

/// Checks that `lib` is a shared object the loader of `this` (a program of
/// the same build, when known) can load. The loader would otherwise print
/// a line and run the program without keepalive, exit status 0.
pub(crate) fn check_library(lib: &Path, this: Option<&Path>) -> Result<(), String> {
    let cannot = |why: String| {
        format!(
            "cannot use the preload library {}: {why}; reinstall it (make install)",
            lib.display()
        )
    };
    let header = match elf::read(lib) {
        Ok(elf::Kind::Elf(h)) => h,
        Ok(_) => return Err(cannot("not an ELF file".into())),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(cannot(format!("a damaged ELF file ({e})")))
        }
        Err(e) => return Err(cannot(format!("cannot read it ({e})"))),
    };
    if header.kind != elf::ET_DYN {
        return Err(cannot(format!(
            "not a shared object (ELF type {})",
            header.kind
        )));
    }
    if let Some(Ok(elf::Kind::Elf(ours))) = this.map(elf::read) {
        if header.abi != ours.abi {
            return Err(cannot(format!(
                "built for {}, this program for {}",
                header.abi, ours.abi
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;

    #[test]
    fn the_preload_library_must_be_a_loadable_shared_object() {
        let s = Scratch::new("lib");
        let me = std::env::current_exe().unwrap();
        let ours = match elf::read(&me).unwrap() {
            elf::Kind::Elf(h) => h,
            other => panic!("{other:?}"),
        };
        let lib = |name, bytes: &[u8], mode| s.file(name, bytes, mode);
        let good = lib(
            "good.so",
            &elf::tests::elf64(elf::ET_DYN, ours.abi.machine, &[]),
            0o644,
        );
        assert_eq!(check_library(&good, Some(&me)), Ok(()));
        let cases = [
            (lib("text.so", b"just text\n", 0o644), "not an ELF file"),
            (lib("empty.so", b"", 0o644), "not an ELF file"),
            (
                lib(
                    "exec.so",
                    &elf::tests::elf64(elf::ET_EXEC, ours.abi.machine, &[]),
                    0o644,
                ),
                "not a shared object (ELF type 2)",
            ),
            (
                lib(
                    "other.so",
                    &elf::tests::elf64(elf::ET_DYN, 4242, &[]),
                    0o644,
                ),
                "built for 64-bit little-endian, ELF machine 4242",
            ),
            (
                lib("cut.so", b"\x7fELF\x02\x01\x01", 0o644),
                "damaged ELF file",
            ),
        ];
        for (path, why) in &cases {
            let err = check_library(path, Some(&me)).unwrap_err();
            assert!(err.contains(why), "{}: {err}", path.display());
            assert!(err.contains(&path.display().to_string()), "{err}");
        }
        // Unreadable: root reads anything, so only checked for others.
        // SAFETY: a getter that cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            let hidden = lib(
                "hidden.so",
                &elf::tests::elf64(elf::ET_DYN, ours.abi.machine, &[]),
                0o000,
            );
            let err = check_library(&hidden, Some(&me)).unwrap_err();
            assert!(err.contains("cannot read it"), "{err}");
        }
    }
}
